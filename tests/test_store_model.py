"""A Hypothesis state machine: random ingest / upsert / delete / delete-by-filter / compact /
reopen / query sequences agree with a plain dict model, on both backends, in memory (reopen:
to_bytes() and open_bytes()) and in an .rvf file (reopen: close, then agentdb.open again)."""

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import reference as ref
from support import StoreMachine

DIM = 4
ids = st.integers(0, 40)
vectors = st.lists(st.integers(-3, 3), min_size=DIM, max_size=DIM).filter(any)
metas = st.fixed_dictionaries({"kind": st.sampled_from(["a", "b", "c"]), "n": st.integers(0, 5)})
wheres = st.sampled_from([None, {"kind": "a"}, {"n": {"gt": 2}}, {"not": {"kind": "b"}},
                          {"or": [{"kind": "c"}, {"n": 0}]}])


class StoreModel(StoreMachine, RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # brute_force_rows=0 sends queries through the graph (ef 64 covers these small stores)
        self.open_store("agentdb-model-", "model.rvf", dim=DIM, metric="l2", m=4, ef_construction=16,
                        brute_force_rows=0)
        self.model = {}

    @rule(batch=st.lists(st.tuples(ids, vectors, metas), min_size=1, max_size=6, unique_by=lambda t: t[0]))
    def ingest(self, batch):
        self.db.ingest([b[0] for b in batch], [b[1] for b in batch], metadata=[b[2] for b in batch])
        for ident, vec, md in batch:
            self.model[ident] = (vec, md)

    @rule(ident=ids)
    def delete(self, ident):
        assert self.db.delete([ident], missing_ok=True) == (1 if ident in self.model else 0)
        self.model.pop(ident, None)

    @rule(where=wheres.filter(lambda w: w is not None))
    def delete_where(self, where):
        gone = [i for i, (_, md) in self.model.items() if ref.matches(md, where)]
        assert self.db.delete(where=where) == len(gone)
        for i in gone:
            del self.model[i]

    @rule()
    def compact(self):
        self.db.compact()
        assert self.db.status()["deleted"] == 0

    @rule()
    def reopen(self):
        self.reopen_store()
        assert self.db.verify()["ok"]
        assert self.db.status()["metric"] == "l2" and self.db.brute_force_rows == 0

    @rule(q=vectors, k=st.integers(1, 8), where=wheres, exact=st.booleans())
    def query(self, q, k, where, exact):
        res = self.db.query(q, k=k, where=where, exact=exact)
        score = {i: float(np.sum((np.array(v) - np.array(q)) ** 2)) for i, (v, md) in self.model.items()
                 if where is None or ref.matches(md, where)}
        # integer vectors: float32 L2 scores are exact, so the best k scores must match exactly
        assert list(res.scores) == sorted(score.values())[:k]
        # and every hit is an allowed id with exactly that score (ties may come in any order)
        assert all(score.get(i) == s for i, s in zip(res.ids, res.scores))
        assert len(set(res.ids)) == len(res)

    @invariant()
    def counts_agree(self):
        assert len(self.db) == len(self.model)
        assert set(self.db.ids()) == set(self.model)
        for ident in list(self.model)[:3]:
            rec = self.db.get(ident)
            assert rec.vector.tolist() == [float(x) for x in self.model[ident][0]]
            assert rec.metadata == self.model[ident][1]


class StoreModelWasm(StoreModel):
    backend = "wasmhost"


class StoreModelFile(StoreModel):
    on_file = True


class StoreModelFileWasm(StoreModelFile):
    backend = "wasmhost"


TestStoreModel = StoreModel.TestCase
TestStoreModel.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestStoreModelWasm = StoreModelWasm.TestCase
TestStoreModelWasm.settings = settings(max_examples=15, stateful_step_count=25, deadline=None)
TestStoreModelFile = StoreModelFile.TestCase
TestStoreModelFile.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestStoreModelFileWasm = StoreModelFileWasm.TestCase
TestStoreModelFileWasm.settings = settings(max_examples=10, stateful_step_count=25, deadline=None)
