"""Statements and clauses: UNION, the clause order of a query, and each clause (MATCH with
SEARCH, UNWIND, WITH, RETURN and their projection, CREATE, MERGE, SET, REMOVE, DELETE, CALL).
A mixin of agentdb.graph.cypher.parser.Parser: patterns and expressions come from its siblings.
"""
from ...errors import CypherSyntaxError
from . import ast as A
from .lexer import EOF, IDENT
from .parser_tokens import CLAUSES, READING, UPDATING, TokenStream


class ClauseParser(TokenStream):
    """Recursive descent over statements and clauses."""

    def statement(self):
        start = self.tok
        query, state = self.query(in_union=False)
        queries = [query]
        union_all = None
        while self.at_kw("UNION"):
            union = self.advance()
            is_all = bool(self.accept_kw("ALL"))
            if union_all is not None and is_all != union_all:
                self.fail("UNION or UNION ALL throughout (they cannot be mixed)", union)
            union_all = is_all
            query, state = self.query(in_union=True)
            queries.append(query)
        if self.accept(";"):
            if self.tok.kind != EOF:
                self.fail("end of query after ';' (one statement at a time)")
        elif self.tok.kind != EOF:
            tail = {"done": ["UNION", "end of query"], "end": ["a clause", "end of query"],
                    "open": ["a clause"]}[state]
            self.fail(self.options([part for text in self.follow for part in text.split(", ")] + tail))
        if len(queries) == 1:
            return queries[0]
        return A.Union(tuple(queries), union_all, pos=self.pos(start))

    def query(self, in_union):
        """One query up to UNION, ';' or the end; returns it and whether it is "done" (RETURN),
        may "end" there (after an updating clause, or a lone CALL) or is still "open"."""
        start = self.tok
        clauses = []
        state = "reading"            # -> "updating" after an updating clause, "done" after RETURN
        last_update = last_name = None
        while self.tok.kind == IDENT and self.tok.kw in CLAUSES:
            token = self.tok
            name = self.clause_name(token)
            if state == "done":
                self.fail("UNION or end of query after RETURN")
            if token.kw in READING and state == "updating":
                self.fail(f"WITH between {last_update} and {name} (a reading clause cannot follow an "
                          "updating one directly)")
            clause = self.clause()
            clauses.append(clause)
            last_name = name
            if isinstance(clause, A.Return):
                state = "done"
            elif isinstance(clause, A.With):
                state, last_update = "reading", None
            elif token.kw in UPDATING:
                state, last_update = "updating", name
        if not clauses:
            self.fail("a clause (MATCH, CREATE, MERGE, UNWIND, WITH, RETURN, CALL, ...)")
        query = A.Query(tuple(clauses), pos=self.pos(start))
        if state == "done":
            return query, "done"
        stops = self.tok.kind == EOF or self.at(";") or self.at_kw("UNION")
        if (in_union or self.at_kw("UNION")) and stops:
            self.fail("RETURN " + ("before UNION" if self.at_kw("UNION") else "at the end of each query of a UNION")
                      + " (every query of a UNION returns rows)")
        if state == "updating" or (len(clauses) == 1 and isinstance(clauses[0], A.Call)):
            return query, "end"
        if stops:
            if last_name == "WITH":
                self.fail("a clause after WITH (a query cannot end with WITH)")
            self.fail(f"RETURN or an updating clause after {last_name} (a query cannot end with a reading clause)")
        return query, "open"

    @staticmethod
    def clause_name(token):
        return {"OPTIONAL": "OPTIONAL MATCH", "DETACH": "DETACH DELETE"}.get(token.kw, token.kw)

    def clause(self):
        kw = self.tok.kw
        if kw in ("MATCH", "OPTIONAL"):
            return self.match()
        if kw in ("DELETE", "DETACH"):
            return self.delete()
        return getattr(self, "clause_" + kw.lower())()

    def match(self):
        start = self.tok
        optional = bool(self.accept_kw("OPTIONAL"))
        if optional:
            self.expect_kw("MATCH", "after OPTIONAL")
        else:
            self.advance()
        patterns = self.patterns()
        self.follow = ["',', a relationship pattern, SEARCH, WHERE"]
        search = self.search(patterns) if self.at_kw("SEARCH") else None
        if search:
            self.follow = ["WHERE"]
        where = self.where()
        return A.Match(tuple(patterns), where, optional, search, pos=self.pos(start))

    def where(self):
        if not self.accept_kw("WHERE"):
            return None
        expr = self.expression()
        self.follow = ["an operator"]
        return expr

    def search(self, patterns):
        start = self.advance()
        variable_token = self.tok
        variable = self.name("a variable after SEARCH")
        if not any(variable in p.variables() for p in patterns):
            self.fail("a variable of this MATCH's pattern after SEARCH", variable_token)
        self.expect_kw("IN", "after the SEARCH variable")
        self.expect("(", "after SEARCH ... IN")
        self.expect_kw("VECTOR", "after SEARCH ... IN (")
        index = None
        if self.accept_kw("INDEX"):
            index = self.schema_name("an index name after INDEX")
        if not self.at_kw("FOR"):
            self.fail("FOR and the query vector" if index is not None else "INDEX or FOR after VECTOR")
        self.advance()
        vector = self.expression()
        where = self.expression() if self.accept_kw("WHERE") else None
        if not self.at_kw("LIMIT"):
            self.fail("an operator, WHERE or LIMIT in SEARCH (...)" if where is None
                      else "an operator or LIMIT in SEARCH (...)")
        self.advance()
        limit = self.expression()
        if not self.at(")"):
            self.fail("an operator or ')' to close SEARCH (...)")
        self.advance()
        score = None
        if self.accept_kw("SCORE"):
            self.expect_kw("AS", "after SCORE")
            score = self.name("a variable after SCORE AS")
        return A.VectorSearch(variable, vector, limit, where, index, score, pos=self.pos(start))

    def clause_unwind(self):
        start = self.advance()
        expr = self.expression()
        if not self.at_kw("AS"):
            self.fail("an operator or AS after the UNWIND expression")
        self.advance()
        variable = self.name("a variable after UNWIND ... AS")
        self.follow = []
        return A.Unwind(expr, variable, pos=self.pos(start))

    def clause_with(self):
        start = self.advance()
        projection = self.projection("WITH")
        self.follow = self.follow + ["WHERE"]
        where = self.where()
        return A.With(projection, where, pos=self.pos(start))

    def clause_return(self):
        start = self.advance()
        return A.Return(self.projection("RETURN"), pos=self.pos(start))

    def projection(self, clause):
        start = self.tok
        distinct = bool(self.accept_kw("DISTINCT"))
        star = bool(self.accept("*"))
        items = []
        if star:
            self.follow = ["',', ORDER BY, SKIP, LIMIT"]
        else:
            items.append(self.return_item(clause))
        while self.accept(","):
            items.append(self.return_item(clause))
        seen = set()
        for item in items:
            if item.name in seen:
                raise CypherSyntaxError(f"expected distinct column names, found '{item.name}' twice "
                                        "(name one with AS)", *item.pos, expected="distinct column names")
            seen.add(item.name)
        order_by = ()
        if self.at_kw("ORDER"):
            self.advance()
            self.expect_kw("BY", "after ORDER")
            order = [self.sort_item()]
            while self.accept(","):
                order.append(self.sort_item())
            order_by = tuple(order)
        skip = limit = None
        if self.accept_kw("SKIP"):
            skip = self.expression()
            self.follow = ["an operator, LIMIT"]
        if self.accept_kw("LIMIT"):
            limit = self.expression()
            self.follow = ["an operator"]
        return A.Projection(tuple(items), star, distinct, order_by, skip, limit, pos=self.pos(start))

    def return_item(self, clause):
        start = self.tok
        expr = self.expression()
        end = self.tokens[self.i - 1].end
        text = self.text[start.start:end]
        alias = None
        if self.accept_kw("AS"):
            alias = self.name("a name after AS")
            self.follow = ["',', ORDER BY, SKIP, LIMIT"]
        elif clause == "WITH" and not isinstance(expr, A.Variable):
            self.fail(f"an operator or AS after the WITH expression '{text if len(text) < 40 else text[:37] + '...'}'"
                      " (WITH items other than variables need an alias)")
        else:
            self.follow = ["an operator, AS, ',', ORDER BY, SKIP, LIMIT"]
        return A.ReturnItem(expr, alias, text, pos=self.pos(start))

    def sort_item(self):
        start = self.tok
        expr = self.expression()
        descending = False
        if self.at_kw("ASC", "ASCENDING", "DESC", "DESCENDING"):
            descending = self.advance().kw.startswith("DESC")
            self.follow = ["',', SKIP, LIMIT"]
        else:
            self.follow = ["an operator, ASC, DESC, ',', SKIP, LIMIT"]
        return A.SortItem(expr, descending, pos=self.pos(start))

    def clause_create(self):
        start = self.advance()
        patterns = self.patterns()
        for pattern in patterns:
            for rel in pattern.relationships:
                self.check_write_rel(rel, "CREATE")
        self.follow = ["',', a relationship pattern"]
        return A.Create(tuple(patterns), pos=self.pos(start))

    @staticmethod
    def check_write_rel(rel, clause):
        """CREATE and MERGE make exactly one relationship of one type per pattern step."""
        if len(rel.types) != 1:
            raise CypherSyntaxError(f"expected exactly one relationship type in {clause}, found "
                                    f"{len(rel.types) or 'none'}", *rel.pos, expected="one relationship type")
        if rel.length is not None:
            raise CypherSyntaxError(f"expected a single relationship in {clause}, found a variable-length one",
                                    *rel.pos, expected="a single relationship")
        if clause == "CREATE" and rel.direction == A.BOTH:
            raise CypherSyntaxError("expected a direction ('->' or '<-') for the relationship in CREATE, found "
                                    "an undirected one", *rel.pos, expected="a direction")

    def clause_merge(self):
        start = self.advance()
        pattern = self.pattern()
        for rel in pattern.relationships:
            self.check_write_rel(rel, "MERGE")
        for element in pattern.elements:
            if isinstance(element.properties, A.Parameter):
                raise CypherSyntaxError("expected a map literal of properties in MERGE, found a parameter "
                                        "(write {key: $p.key, ...})", *element.properties.pos,
                                        expected="a map literal")
        on_create, on_match = [], []
        self.follow = ["a relationship pattern, ON CREATE, ON MATCH"]
        while self.at_kw("ON"):
            self.advance()
            if not self.at_kw("CREATE", "MATCH"):
                self.fail("CREATE or MATCH after ON")
            kind = self.advance().kw
            self.expect_kw("SET", f"after ON {kind}")
            (on_create if kind == "CREATE" else on_match).extend(self.set_items())
            self.follow = ["',', an operator, ON CREATE, ON MATCH"]
        return A.Merge(pattern, tuple(on_create), tuple(on_match), pos=self.pos(start))

    def clause_set(self):
        start = self.advance()
        items = self.set_items()
        self.follow = ["',', an operator"]
        return A.Set(tuple(items), pos=self.pos(start))

    def set_items(self):
        items = [self.set_item()]
        while self.accept(","):
            items.append(self.set_item())
        return items

    def set_item(self):
        start = self.tok
        variable = self.name("a variable to SET")
        if self.at("."):
            target = self.property_chain(A.Variable(variable, pos=self.pos(start)))
            self.expect("=", "after the property to SET")
            return A.SetProperty(target, self.expression(), pos=self.pos(start))
        if self.at("=") or self.at("+="):
            merge = self.advance().value == "+="
            return A.SetProperties(variable, self.expression(), merge, pos=self.pos(start))
        if self.at(":"):
            return A.SetLabels(variable, self.labels(), pos=self.pos(start))
        self.fail("'.', '=', '+=' or ':' after the variable to SET")

    def property_chain(self, subject):
        while self.accept("."):
            subject = A.Property(subject, self.schema_name("a property name after '.'"), pos=subject.pos)
        return subject

    def clause_remove(self):
        start = self.advance()
        items = [self.remove_item()]
        while self.accept(","):
            items.append(self.remove_item())
        self.follow = ["','"]
        return A.Remove(tuple(items), pos=self.pos(start))

    def remove_item(self):
        start = self.tok
        variable = self.name("a variable to REMOVE from")
        if self.at("."):
            return A.RemoveProperty(self.property_chain(A.Variable(variable, pos=self.pos(start))),
                                    pos=self.pos(start))
        if self.at(":"):
            return A.RemoveLabels(variable, self.labels(), pos=self.pos(start))
        self.fail("'.' or ':' after the variable to REMOVE from")

    def delete(self):
        start = self.advance()
        detach = start.kw == "DETACH"
        if detach:
            self.expect_kw("DELETE", "after DETACH")
        exprs = [self.expression()]
        while self.accept(","):
            exprs.append(self.expression())
        self.follow = ["',', an operator"]
        return A.Delete(tuple(exprs), detach, pos=self.pos(start))

    def clause_call(self):
        start = self.advance()
        parts = [self.schema_name("a procedure name after CALL")]
        while self.accept("."):
            parts.append(self.schema_name("a procedure name part after '.'"))
        self.expect("(", "and the procedure's arguments after its name")
        args = self.arguments("the procedure's arguments")
        yields = where = None
        self.follow = ["YIELD"]
        if self.accept_kw("YIELD"):
            items, names = [], set()
            while True:
                token = self.tok
                item = self.yield_item()
                if item.name in names:
                    self.fail(f"distinct names after YIELD ('{item.name}' is given twice)", token)
                names.add(item.name)
                items.append(item)
                if not self.accept(","):
                    break
            yields = tuple(items)
            self.follow = ["',', AS, WHERE"]
            where = self.where()
        return A.Call(".".join(parts), tuple(args), yields, where, pos=self.pos(start))

    def yield_item(self):
        start = self.tok
        field = self.schema_name("a field name after YIELD")
        alias = self.name("a name after AS") if self.accept_kw("AS") else None
        return A.YieldItem(field, alias, pos=self.pos(start))
