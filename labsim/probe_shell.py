"""The part of `sh -c` that batched probe scripts use, run asynchronously inside the lab:
command lists (`;`, newlines, `&&`, `||`), background jobs (`&`) and `wait`, `for NAME in
WORDS; do ...; done` with `$NAME` expansion, redirections (`>/dev/null`, `2>&1`, `2>/dev/null`),
and `echo`, `sleep`, `timeout`, `true`, `false`. Programs come from labsim.probes (ping,
ib_write_bw, rping, mlnx_qos, the node agent) and from labsim.execsim (ip, cat, ...).

A background job whose output still goes to the exec stream keeps the exec open until it ends
(the container runtime waits for the stream's writers, as on a real node); one whose output is
redirected away keeps running in the pod after the exec returns (until its `timeout`, the pod's
deletion, or the lab's end).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from labsim.execsim import ExecResult

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t]+)
  | (?P<nl>\n)
  | (?P<op>&&|\|\||[;&|()])
  | (?P<redir>\d*(?:>>|>&|>|<))
  | (?P<sq>'[^']*')
  | (?P<dq>"(?:[^"\\]|\\.)*")
  | (?P<bare>(?:[^\s;&|()<>'"\\]|\\.)+)
    """,
    re.X,
)
_VARIABLE = re.compile(r"\$(?:\{(\w+|\?)\}|(\w+|\?))")
_KEYWORDS = ("for", "in", "do", "done")


class ShellSyntaxError(Exception):
    pass


class Word:
    """A shell word: its parts (text, whether `$` expands in it), and its text when nothing in
    it expands (computed once; False when something does)."""

    __slots__ = ("parts", "static")

    def __init__(self, parts: list[tuple[str, bool]], static: str | bool | None = None):
        self.parts = parts
        self.static = static

    @property
    def literal(self) -> str | None:
        """The word's text when nothing in it expands (a keyword check needs this)."""
        if self.static is not None:
            return self.static if self.static is not False else None
        if all(not expands or "$" not in text for text, expands in self.parts):
            return "".join(text for text, _ in self.parts)
        return None

    def expand(self, variables: dict[str, str]) -> str:
        static = self.static
        if static is None:
            literal = self.literal
            static = self.static = literal if literal is not None else False
        if static is not False:
            return static
        if len(self.parts) == 1:
            text = self.parts[0][0]
            if text[0] == "$" and text[1:] in variables:
                return variables[text[1:]]
        out = []
        for text, expands in self.parts:
            if expands and "$" in text:
                text = _VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)
            out.append(text)
        return "".join(out)


@dataclass
class Redirect:
    fd: int
    op: str  # > >> >& <
    target: Word


@dataclass
class Command:
    words: list[Word]
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class ForLoop:
    variable: str
    items: list[Word]
    body: list  # [(node, separator)]


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


_PLAIN_TOKEN = re.compile(r"&&|\|\||[;&|()\n]|\d*(?:>>|>&|>|<)|[^\s;&|()<>]+|\S")
_OPERATORS = {"&&", "||", ";", "&", "|", "(", ")"}


def _tokenize_plain(script: str) -> list[tuple[str, object]]:
    """Scripts without quotes or backslashes (the batched probe scripts): one findall."""
    tokens: list[tuple[str, object]] = []
    append = tokens.append
    for text in _PLAIN_TOKEN.findall(script):
        if text in _OPERATORS:
            append(("op", text))
        elif text == "\n":
            append(("op", ";"))
        elif text[-1] in "<>&":
            append(("redir", text))
        elif "$" in text:
            append(("word", Word([(text, True)], False)))
        else:
            append(("word", text))  # a plain string: nothing in it expands
    return tokens


def _literal(word) -> str | None:
    return word if type(word) is str else word.literal


def _expand(word, variables: dict[str, str]) -> str:
    return word if type(word) is str else word.expand(variables)


def tokenize(script: str) -> list[tuple[str, object]]:
    """[("word", Word) | ("op", ";") | ("redir", "2>&")]; adjacent quoted and bare parts join
    into one word, as the shell does."""
    if not any(char in script for char in "'\"\\"):
        return _tokenize_plain(script)
    tokens: list[tuple[str, object]] = []
    position = 0
    word: Word | None = None
    for match in _TOKEN.finditer(script):
        if match.start() != position:
            raise ShellSyntaxError(f"unexpected character {script[position]!r}")
        position = match.end()
        kind = match.lastgroup
        text = match.group()
        if kind in ("sq", "dq", "bare"):
            if kind == "sq":
                part = (text[1:-1], False)
            elif kind == "dq":
                part = (_unescape(text[1:-1]), True)
            else:
                part = (_unescape(text), True)
            if word is None:
                word = Word([part])
                tokens.append(("word", word))
            else:
                word.parts.append(part)
            continue
        word = None
        if kind == "ws":
            continue
        if kind == "nl":
            tokens.append(("op", ";"))
        elif kind == "op":
            tokens.append(("op", text))
        else:
            tokens.append(("redir", text))
    if position != len(script):
        raise ShellSyntaxError(f"unexpected character {script[position]!r}")
    return tokens


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.position = 0

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.position += 1
        return token

    def keyword(self) -> str | None:
        kind, value = self.peek()
        if kind == "word" and _literal(value) in _KEYWORDS:
            return _literal(value)
        return None

    def parse_list(self, until: str | None = None) -> list:
        """[(and-or list, ";" or "&")]; an and-or list is [(command or loop, "&&" | "||" |
        None)], so `a && b &` runs the whole of `a && b` in the background."""
        items = []
        while True:
            kind, value = self.peek()
            if kind is None:
                if until:
                    raise ShellSyntaxError(f'end of file unexpected (expecting "{until}")')
                return items
            if kind == "op" and value == ";":
                self.take()
                continue
            if until and self.keyword() == until:
                self.take()
                return items
            chain = []
            while True:
                node = self.parse_for() if self.keyword() == "for" else self.parse_command()
                kind, value = self.peek()
                if kind == "op" and value in ("&&", "||"):
                    self.take()
                    chain.append((node, value))
                    continue
                chain.append((node, None))
                break
            separator = ";"
            if kind == "op" and value in (";", "&"):
                separator = value
                self.take()
            elif kind == "op":
                raise ShellSyntaxError(f'"{value}" unexpected')
            items.append((chain, separator))

    def parse_for(self) -> ForLoop:
        self.take()
        kind, name = self.take()
        if kind != "word" or not re.fullmatch(r"[A-Za-z_]\w*", _literal(name) or ""):
            raise ShellSyntaxError("Bad for loop variable")
        items: list[Word] = []
        if self.keyword() == "in":
            self.take()
            tokens, position = self.tokens, self.position
            while True:
                if position >= len(tokens):
                    raise ShellSyntaxError('"do" expected')
                kind, value = tokens[position]
                position += 1
                if kind == "op" and value == ";":
                    break
                if kind != "word":
                    raise ShellSyntaxError('"do" expected')
                items.append(value)
            self.position = position
        if self.keyword() != "do":
            raise ShellSyntaxError('"do" unexpected (expecting "done")')
        self.take()
        return ForLoop(_literal(name), items, self.parse_list(until="done"))

    def parse_command(self) -> Command:
        command = Command([])
        while True:
            kind, value = self.peek()
            if kind == "word":
                command.words.append(value)
                self.take()
            elif kind == "redir":
                self.take()
                target_kind, target = self.take()
                if target_kind != "word":
                    raise ShellSyntaxError("redirection unexpected")
                fd_text, op = re.fullmatch(r"(\d*)(.+)", value).groups()
                fd = int(fd_text) if fd_text else (0 if op == "<" else 1)
                command.redirects.append(Redirect(fd, op, target))
            elif kind == "op" and value == "|":
                raise ShellSyntaxError("pipes are not simulated by the lab")
            elif kind == "op" and value in ("(", ")"):
                raise ShellSyntaxError(f'"{value}" unexpected')
            else:
                break
        if not command.words:
            raise ShellSyntaxError(f'"{self.peek()[1]}" unexpected')
        return command


def parse(script: str) -> list:
    parser = _Parser(tokenize(script))
    return parser.parse_list()


# Execution --------------------------------------------------------------------------------


@dataclass
class Output:
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


class Job:
    """A background command: attached jobs write to the exec's stream, detached ones do not."""

    def __init__(self, task: asyncio.Task | None, attached: bool):
        self.task = task
        self.attached = attached


class Shell:
    """Runs one script for one exec. `programs` maps a name to a callable (args, timeout) ->
    ExecResult or awaitable ExecResult; `detach` hands a detached job to whoever keeps the
    pod's processes."""

    def __init__(self, name: str, run_program, detach=None, batch=None):
        self.name = name
        self.run_program = run_program
        self.detach = detach
        self.batch = batch  # (words before $var, items) -> ExecResult or None
        self.output = Output()
        self.jobs: list[Job] = []
        self.status = 0  # $?

    async def run(self, script: str) -> ExecResult:
        try:
            tree = parse(script)
        except ShellSyntaxError as error:
            return ExecResult(stderr=f"{self.name}: 1: Syntax error: {error}\n", exit_code=2)
        code = await self.run_list(tree, {})
        attached = [job.task for job in self.jobs if job.attached and job.task is not None]
        if attached:
            await asyncio.gather(*attached, return_exceptions=True)
        return ExecResult("".join(self.output.stdout), "".join(self.output.stderr), code)

    async def run_list(self, items: list, variables: dict[str, str]) -> int:
        code = 0
        for chain, separator in items:
            if separator == "&":
                self._background(chain, variables)
                code = 0
            else:
                code = await self.run_chain(chain, variables, self.output)
        return code

    async def run_chain(self, chain: list, variables, output: Output) -> int:
        code, previous = 0, None
        for node, operator in chain:
            if previous == "&&" and code != 0 or previous == "||" and code == 0:
                previous = operator if operator else previous
                continue
            code = await self.run_node(node, variables, output)
            previous = operator
        return code

    async def run_node(self, node, variables, output: Output) -> int:
        if isinstance(node, ForLoop):
            code = 0
            items = [_expand(word, variables) for word in node.items]
            if self._run_batch(node, items, variables, output):
                return 0
            for item in items:
                code = await self.run_list(node.body, {**variables, node.variable: item})
            return code
        return await self.run_command(node, variables, output)

    def _run_batch(self, loop: ForLoop, items: list[str], variables, output: Output) -> bool:
        """`for x in ...; do tool ... $x & done`: all iterations start at once, so a tool that
        finishes at once may run them in one go."""
        if self.batch is None or len(loop.body) != 1:
            return False
        chain, separator = loop.body[0]
        if separator != "&" or len(chain) != 1 or not isinstance(chain[0][0], Command):
            return False
        command = chain[0][0]
        if command.redirects or len(command.words) < 2:
            return False
        last = command.words[-1]
        if type(last) is str or last.parts not in (
            [(f"${loop.variable}", True)],
            [(f"${{{loop.variable}}}", True)],
        ):
            return False
        prefix = [_expand(word, variables) for word in command.words[:-1]]
        if any(type(word) is not str and word.static is False for word in command.words[:-1]):
            return False
        result = self.batch(prefix, items)
        if result is None:
            return False
        self._emit(result, "out", "err", output)
        return True

    def _background(self, chain: list, variables) -> None:
        if len(chain) > 1 or isinstance(chain[0][0], ForLoop):
            task = asyncio.ensure_future(self.run_chain(chain, dict(variables), self.output))
            self.jobs.append(Job(task, True))
            return
        node = chain[0][0]
        words = [_expand(word, variables) for word in node.words]
        stdout_to, stderr_to = self._targets(node.redirects, variables)
        attached = stdout_to != "null" or stderr_to != "null"
        result = self._start(words, node.redirects, variables)
        if not asyncio.iscoroutine(result):
            self._emit(result, stdout_to, stderr_to, self.output)  # done at once: no job
            return

        async def job():
            done = await result
            self._emit(done, stdout_to, stderr_to, self.output)
            return done.exit_code

        task = asyncio.ensure_future(job())
        self.jobs.append(Job(task, attached))
        if not attached and self.detach:
            self.detach(task)

    def _targets(self, redirects: list[Redirect], variables) -> tuple[str, str]:
        """Where stdout and stderr go: the exec's "out" or "err" channel, or "null"."""
        stdout, stderr = "out", "err"
        for redirect in redirects:
            target = _expand(redirect.target, variables)
            if redirect.op == ">&":
                destination = {"1": stdout, "2": stderr}.get(target, "null")
            elif redirect.op in (">", ">>"):
                destination = "null"
            else:
                continue
            if redirect.fd == 1:
                stdout = destination
            elif redirect.fd == 2:
                stderr = destination
        return stdout, stderr

    def _emit(self, result: ExecResult, stdout_to: str, stderr_to: str, output: Output) -> None:
        for text, destination in ((result.stdout, stdout_to), (result.stderr, stderr_to)):
            if text and destination == "out":
                output.stdout.append(text)
            elif text and destination == "err":
                output.stderr.append(text)

    def _start(self, words: list[str], redirects, variables):
        for redirect in redirects:
            target = _expand(redirect.target, variables)
            if redirect.op in (">", ">>") and target != "/dev/null":
                return ExecResult(
                    stderr=f"{self.name}: 1: cannot create {target}: Read-only file system\n",
                    exit_code=2,
                )
        return self.builtin(words)

    async def run_command(self, node: Command, variables, output: Output) -> int:
        variables["?"] = str(self.status)
        words = [_expand(word, variables) for word in node.words]
        stdout_to, stderr_to = self._targets(node.redirects, variables)
        result = self._start(words, node.redirects, variables)
        if asyncio.iscoroutine(result):
            result = await result
        self._emit(result, stdout_to, stderr_to, output)
        self.status = result.exit_code
        return result.exit_code

    def builtin(self, words: list[str]):
        """An ExecResult for commands that finish at once, else a coroutine."""
        program, args = words[0], words[1:]
        if program == "wait":
            return self._wait()
        if program == "echo":
            newline = "\n"
            if args[:1] == ["-n"]:
                args, newline = args[1:], ""
            return ExecResult(" ".join(args) + newline)
        if program == "true":
            return ExecResult()
        if program == "false":
            return ExecResult(exit_code=1)
        if program == "sleep":
            seconds = _seconds(args[0] if args else "")
            if seconds is None:
                return ExecResult(
                    stderr=f"sleep: invalid time interval '{' '.join(args)}'\n", exit_code=1
                )
            return self._sleep(seconds)
        if program == "timeout":
            return self._timeout(args)
        return self.run_program(words)

    async def _wait(self) -> ExecResult:
        tasks = [job.task for job in self.jobs if job.task is not None and job.attached]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return ExecResult()

    async def _sleep(self, seconds: float) -> ExecResult:
        await asyncio.sleep(seconds)
        return ExecResult()

    def _timeout(self, args: list[str]):
        seconds = _seconds(args[0]) if args else None
        if seconds is None or len(args) < 2:
            return ExecResult(stderr="timeout: invalid time interval\n", exit_code=125)
        result = self.builtin(args[1:])
        if not asyncio.iscoroutine(result):
            return result

        async def bounded():
            try:
                return await asyncio.wait_for(result, seconds)
            except TimeoutError:
                return ExecResult(exit_code=124)

        return bounded()


def _seconds(text: str) -> float | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match:
        return None
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
