"""The committer's side of guards: fences confirmed inside the batch's commit (decision 0027).

On a store that supports guards (PostgreSQL, the home store), a job whose fence offers a
:class:`~ledger.store.guards.Guard` is decided without reading its fence first; its answer
is withheld (the job's future is swapped for a stand-in) until the batch's commit confirmed
every guard. If a guard failed, nothing was saved and nothing is answered: the batch is
decided again, this time reading its fences first, as without guards. If the round saved
nothing (only refusals, replays or no-ops) or its save failed, the fences are read before
the withheld answers are handed over, so no answer — not even a refusal, which would show a
balance — reaches a revoked key.
"""

from __future__ import annotations

from concurrent.futures import Future, InvalidStateError
from typing import Any, cast

from ledger.app.executor import Outcome
from ledger.app.ports import Fence, Job
from ledger.store.guards import Guard, GuardFailed

__all__ = ["Guard", "GuardFailed", "Guarding"]


def _guard_of(fence: Fence) -> Guard | None:
    """The fence's guard, if it offers one (``fence.guard()``)."""
    guard = getattr(fence, "guard", None)
    found = guard() if callable(guard) else None
    return found if isinstance(found, Guard) else None


class _Withheld(Future[Outcome]):
    """A job's answer held back until its guard is confirmed: it records the answer and
    wakes no one. It stands in for the job's future inside the committer only, which calls
    nothing but ``done``, ``set_result`` and ``set_exception`` on it (and ``_hand_over``
    reads it), so it skips the lock and condition a real future builds: one per operation
    of a batch, they were a few per cent of the committer's time.
    """

    def __init__(self) -> None:  # deliberately not Future.__init__: no Condition
        self._answered = False
        self._value: Outcome | None = None
        self._failure: BaseException | None = None

    def done(self) -> bool:
        return self._answered

    def set_result(self, result: Outcome) -> None:
        self._settle(result, None)

    def set_exception(self, exception: BaseException | None) -> None:
        self._settle(None, exception)

    def _settle(self, value: Outcome | None, failure: BaseException | None) -> None:
        if self._answered:
            raise InvalidStateError("a withheld answer is set once")
        self._value, self._failure, self._answered = value, failure, True

    def result(self, timeout: float | None = None) -> Outcome:
        del timeout
        if not self._answered:
            raise InvalidStateError("no answer yet")
        if self._failure is not None:
            raise self._failure
        return cast("Outcome", self._value)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        del timeout
        return self._failure


class Guarding:
    """One batch's guards and withheld answers (the committer keeps one, reset per round)."""

    def __init__(self) -> None:
        self.guards: set[Guard] = set()
        self.withheld: list[tuple[Job, Future[Outcome]]] = []
        self.committed = False
        self.fences_first = False  # a guard failed: this batch reads its fences first
        self._guard_for: dict[Fence, Guard | None] = {}  # one derivation per fence per round

    def new_round(self) -> None:
        self.guards, self.committed, self._guard_for = set(), False, {}

    def take(self, job: Job, store: Any) -> bool:
        """Withhold ``job``'s answer behind its fence's guard; False if it must be read."""
        if self.fences_first or store is not store.home:  # guards name the home's rows
            return False
        if not getattr(store.recorder, "supports_guards", False):
            return False
        fence = job.fence
        if fence is None:
            return False
        if fence not in self._guard_for:
            self._guard_for[fence] = _guard_of(fence)
        guard = self._guard_for[fence]
        if guard is None:
            return False
        self.guards.add(guard)
        self.withheld.append((job, job.future))
        job.future = _Withheld()
        return True

    def save_kwargs(self) -> dict[str, Any]:
        return {"guards": list(self.guards)} if self.guards else {}

    def failed(self) -> None:
        self.fences_first = True

    def release(self, store: Any) -> None:
        """Give each withheld job its answer once its fence is confirmed (see the module)."""
        withheld, self.withheld = self.withheld, []
        refused: dict[Fence, Exception] = {}
        confirmed: set[Fence] = set()
        for job, real in withheld:
            answer, job.future = job.future, real
            fence = job.fence
            if self.fences_first or not answer.done() or fence is None:
                continue  # decided again (fences first), or left for the next round
            if not self.committed and fence not in confirmed:
                error = refused.get(fence) or _read(fence, store)
                if error is not None:
                    refused[fence] = error
                    real.set_exception(error)
                    continue
                confirmed.add(fence)
            _hand_over(answer, real)


def _read(fence: Fence, store: Any) -> Exception | None:
    try:
        fence.check(store)
    except Exception as error:  # the fence's own error answers (e.g. unauthenticated)
        return error
    return None


def _hand_over(answer: Future[Outcome], real: Future[Outcome]) -> None:
    failure = answer.exception()
    if failure is not None:
        real.set_exception(failure)
    else:
        real.set_result(answer.result())
