"""SessionManager: multi-turn sessions over a retrieval controller (ruvllm's SessionManager:
create / get / chat / addSystemMessage / addContext / getHistory / export / import). A session
holds system messages, added context (texts with a source), and a bounded history of user and
assistant messages (the oldest dropped past max_history; system messages and context are
kept). chat() retrieves for the message, builds the prompt messages ({"role", "content"}: the
system messages, the added context and retrieved evidence, the history, the message) and,
with an LLM callable, records its reply; without one the reply is None and the prompt and
the retrieval are what it gives. Sessions export to JSON and import back unchanged.

>>> import agentdb.memory
>>> from agentdb.embed import HashEmbedder
>>> from agentdb.rag import RetrievalController
>>> rag = RetrievalController(agentdb.memory.open(embedder=HashEmbedder(dim=64)))
>>> _ = rag.index("Vantex is based in Lyon.")
>>> sessions = SessionManager(rag, llm=lambda prompt: "Lyon.")
>>> s = sessions.create(system="Answer from the context.")
>>> sessions.chat(s.id, "Where is Vantex based?")["reply"]
'Lyon.'
>>> [m["role"] for m in sessions.get_history(s.id)]
['user', 'assistant']
>>> again = SessionManager(rag); again.import_json(sessions.export(s.id))
['session:1']
"""
import json
import time
from dataclasses import dataclass, field

from ..errors import ArgumentError, IdError, UnknownIdError
from . import llm as llm_calls
from .entities import extract_entities

ROLES = ("user", "assistant")
FORMAT = "agentdb-rag-sessions"


def _text(value, name):
    if not isinstance(value, str) or not value.strip():
        raise ArgumentError(f"{name} must be a non-empty string, got {value!r:.40}")
    return value


@dataclass
class Session:
    """One conversation: id, system messages, context ({"text", "source"}), history ({"role",
    "content", "at"}, plus "sources" for an assistant turn), metadata, created (clock time)."""

    id: str
    system: list = field(default_factory=list)
    context: list = field(default_factory=list)
    history: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    created: float = 0.0

    def to_dict(self):
        """The session as a JSON dict."""
        return {"id": self.id, "system": list(self.system), "context": [dict(c) for c in self.context],
                "history": [dict(m) for m in self.history], "metadata": dict(self.metadata), "created": self.created}

    @classmethod
    def from_dict(cls, d, where="session"):
        """A session from to_dict()'s shape (ArgumentError naming what is wrong)."""
        if not isinstance(d, dict):
            raise ArgumentError(f"{where} must be an object, got {type(d).__name__}")
        if not isinstance(d.get("id"), str) or not d["id"]:
            raise ArgumentError(f"{where}.id must be a non-empty string")
        for name, kind in (("system", list), ("context", list), ("history", list), ("metadata", dict)):
            if not isinstance(d.get(name, kind()), kind):
                raise ArgumentError(f"{where}.{name} must be a{'n object' if kind is dict else ' list'}")
        system = [_text(s, f"{where}.system[{i}]") for i, s in enumerate(d.get("system", []))]
        context = []
        for i, c in enumerate(d.get("context", [])):
            if not isinstance(c, dict) or not isinstance(c.get("text"), str):
                raise ArgumentError(f"{where}.context[{i}] must be an object with a text")
            context.append({"text": c["text"], "source": c.get("source")})
        history = []
        for i, m in enumerate(d.get("history", [])):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise ArgumentError(f"{where}.history[{i}] must be an object with a role in {ROLES} and a content")
            history.append(dict(m))
        created = d.get("created", 0.0)
        if isinstance(created, bool) or not isinstance(created, (int, float)):
            raise ArgumentError(f"{where}.created must be a number")
        return cls(d["id"], system, context, history, dict(d.get("metadata", {})), float(created))


class SessionManager:
    """Sessions over `controller` (a RetrievalController; None: sessions without retrieval).
    llm: a callable prompt -> str for replies; max_history: messages kept per session."""

    def __init__(self, controller=None, *, llm=None, max_history=50, clock=time.time):
        if llm is not None and not callable(llm):
            raise ArgumentError(f"llm must be a callable prompt -> str, got {type(llm).__name__}")
        if isinstance(max_history, bool) or not isinstance(max_history, int) or max_history < 2:
            raise ArgumentError(f"max_history must be an integer >= 2, got {max_history!r}")
        self.controller, self.llm, self.max_history, self.clock = controller, llm, max_history, clock
        self._sessions = {}
        self._next = 1

    def create(self, session_id=None, *, system=None, metadata=None):
        """A new session (id generated as "session:<n>" when not given; IdError if in use).

        >>> sessions.create("support", system="Be brief.").id                   # doctest: +SKIP
        'support'
        """
        if session_id is None:
            while f"session:{self._next}" in self._sessions:
                self._next += 1
            session_id = f"session:{self._next}"
        _text(session_id, "session_id")
        if session_id in self._sessions:
            raise IdError(f"session {session_id!r} exists already")
        if metadata is not None and not isinstance(metadata, dict):
            raise ArgumentError(f"metadata must be a dict, got {type(metadata).__name__}")
        s = Session(session_id, metadata=dict(metadata or {}), created=self.clock())
        if system is not None:
            s.system.append(_text(system, "system"))
        self._sessions[session_id] = s
        return s

    def get(self, session_id):
        """The Session (UnknownIdError if there is none of that id).

        >>> sessions.get("support").system                                      # doctest: +SKIP
        ['Be brief.']
        """
        s = self._sessions.get(session_id) if isinstance(session_id, str) else None
        if s is None:
            raise UnknownIdError(f"no session {session_id!r}")
        return s

    def list(self):
        """The session ids, oldest first.

        >>> sessions.list()                                                     # doctest: +SKIP
        ['support']
        """
        return list(self._sessions)

    def delete(self, session_id):
        """Drops a session.

        >>> sessions.delete("support")                                          # doctest: +SKIP
        """
        self.get(session_id)
        del self._sessions[session_id]

    def add_system_message(self, session_id, text):
        """Adds a system message (kept however long the history grows).

        >>> sessions.add_system_message("support", "Cite your sources.")        # doctest: +SKIP
        """
        self.get(session_id).system.append(_text(text, "text"))

    def add_context(self, session_id, text, *, source=None):
        """Adds context every later prompt of the session carries (e.g. a document).

        >>> sessions.add_context("support", "The release is on May 2.", source="notes.md")  # doctest: +SKIP
        """
        self.get(session_id).context.append({"text": _text(text, "text"), "source": source})

    def add_message(self, session_id, role, content, *, sources=None):
        """Appends a user or assistant message to the history (the oldest dropped past max_history).

        >>> sessions.add_message("support", "user", "hello")                     # doctest: +SKIP
        """
        s = self.get(session_id)
        if role not in ROLES:
            raise ArgumentError(f"role must be one of {ROLES}, got {role!r}")
        message = {"role": role, "content": _text(content, "content"), "at": self.clock()}
        if sources is not None:
            message["sources"] = list(sources)
        s.history.append(message)
        del s.history[:max(0, len(s.history) - self.max_history)]

    def get_history(self, session_id, *, limit=None):
        """The history's messages, oldest first (the last `limit` of them).

        >>> sessions.get_history("support", limit=2)                            # doctest: +SKIP
        """
        history = [dict(m) for m in self.get(session_id).history]
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise ArgumentError(f"limit must be a non-negative integer, got {limit!r}")
            history = history[len(history) - limit:] if limit else []
        return history

    def messages(self, session_id, message=None, *, result=None):
        """The prompt messages: one system message (system texts, added context, the result's
        context), the history, then `message` as the user's.

        >>> sessions.messages("support", "when is the release?")[0]["role"]     # doctest: +SKIP
        'system'
        """
        s = self.get(session_id)
        parts = list(s.system)
        if s.context:
            parts.append("Context:\n" + "\n".join(c["text"] + (f" ({c['source']})" if c["source"] else "")
                                                  for c in s.context))
        if result is not None and result.context:
            parts.append("Retrieved memories:\n" + result.context)
        out = [{"role": "system", "content": "\n\n".join(parts)}] if parts else []
        out += [{"role": m["role"], "content": m["content"]} for m in s.history]
        if message is not None:
            out.append({"role": "user", "content": message})
        return out

    def chat(self, session_id, message, **query):
        """One turn: retrieves for `message` (query= keywords go to controller.query; a message
        naming no entity is asked with the entities of the session's last user message, so "and
        where is it based?" follows the conversation), builds the prompt messages, asks the LLM
        (if any) and records the turn. Returns {"reply" (None without an LLM), "messages",
        "result" (the RagResult, or None without a controller)}.

        >>> sessions.chat("support", "Where is Vantex based?")["result"].sources  # doctest: +SKIP
        ['note:1']
        """
        s = self.get(session_id)
        _text(message, "message")
        result = None
        if self.controller is not None:
            asked = message
            if not extract_entities(message):
                last = next((m["content"] for m in reversed(s.history) if m["role"] == "user"), None)
                names = extract_entities(last) if last else []
                if names:
                    asked = f"{message} ({', '.join(names)})"
            result = self.controller.query(asked, **query)
        messages = self.messages(session_id, message, result=result)
        reply = None
        if self.llm is not None:
            prompt = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"
            reply = llm_calls.say(self.llm, prompt, "chat", fallback="no reply")
        self.add_message(session_id, "user", message)
        if reply is not None and reply.strip():
            self.add_message(session_id, "assistant", reply, sources=result.sources if result else None)
        return {"reply": reply, "messages": messages, "result": result}

    def export(self, session_id=None):
        """JSON text of one session (or all for None): {"format", "version": 1, "sessions": [...]}.

        >>> text = sessions.export()                                            # doctest: +SKIP
        """
        chosen = [self.get(session_id)] if session_id is not None else list(self._sessions.values())
        return json.dumps({"format": FORMAT, "version": 1, "sessions": [s.to_dict() for s in chosen]})

    def import_json(self, text, *, replace=False):
        """Adds the sessions of export()'s JSON text; returns their ids. IdError for an id in use
        (unless replace=True), ArgumentError for text that is not such JSON (nothing is added).

        >>> SessionManager(rag).import_json(text)                               # doctest: +SKIP
        ['support']
        """
        if not isinstance(text, (str, bytes)):
            raise ArgumentError(f"import_json() needs JSON text, got {type(text).__name__}")
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise ArgumentError(f"not session JSON: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != 1:
            raise ArgumentError(f"not session JSON: expected {{\"format\": \"{FORMAT}\", \"version\": 1, ...}}")
        if not isinstance(doc.get("sessions"), list):
            raise ArgumentError("not session JSON: 'sessions' must be a list")
        sessions = [Session.from_dict(d, f"sessions[{i}]") for i, d in enumerate(doc["sessions"])]
        for s in sessions:
            if s.id in self._sessions and not replace:
                raise IdError(f"session {s.id!r} exists already (pass replace=True to replace it)")
            if len(s.history) > self.max_history:
                del s.history[:len(s.history) - self.max_history]
        for s in sessions:
            self._sessions[s.id] = s
        return [s.id for s in sessions]
