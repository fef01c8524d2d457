"""A request is a unit of work: it commits once when it succeeds and rolls back when it fails.

Views write through services (which only flush) and answer; they don't commit. When the view
has answered, `finish_request` decides:

- the answer is below 400 (a page, a redirect after a valid form, a JSON success): commit;
- the answer is 400 or above (an error page, a form sent back with 4xx, an `abort`), or the
  view raised (the error handlers answer 4xx/5xx): roll back, so half-done writes are never kept.

A view that catches a service's error and still answers below 400 (a form shown again with its
errors, a flash and a redirect) says so with `db.session.rollback()` before answering: nothing tells
a caught error from success. A view that must commit before the end, deliberately (an order is
kept before the payment provider is called), commits by hand and says why.

When the commit fails (a unique key taken by another request at the last moment, the database
gone), everything is rolled back, the browser keeps the session it came with (no "saved" message,
no login or logout), and the visitor gets the error page the same error would have got from the
view; nothing promised after the commit happens.

What must happen only once the work is kept is registered during the request:

- mail and jobs (storage deletions among them) are rows written in the same transaction
  (`integrations.mail.send_after_commit`, `jobs.enqueue`), handed to the runner after the commit:
  they survive a crash, so they are the way for anything that must not be lost;
- `on_commit(action)` runs a callable in this process once the transaction it was registered in
  commits, and never if it (or the savepoint it was registered in) rolls back.

A body streamed after the view returned is produced after the commit: it may read, never write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, has_request_context, request, session
from flask.globals import request_ctx
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction

from .extensions import db

log = logging.getLogger(__name__)

WROTE = "aqueduct.unit_of_work.wrote"  # set by a flush or a write statement, cleared when the transaction ends
PENDING = "aqueduct.on_commit.pending"  # [(transaction registered in, action)]
COMMITTED = "aqueduct.on_commit.committed"  # actions whose transaction committed, not run yet


def on_commit(action: Callable[[], object]) -> None:
    """Run `action` once the current transaction commits (at the end of the request); drop it if it rolls back.

    Only inside a request: work outside one (jobs, commands) commits for itself and nothing would run it.
    """
    if not has_request_context():
        raise RuntimeError("on_commit is for request code; jobs and commands run their follow-up after their commit")
    session = db.session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(PENDING, []).append((transaction, action))


def succeeded(response: Response) -> bool:
    """Whether a request's work is kept: it answered below 400 (an exception answers 4xx or 5xx)."""
    return response.status_code < 400


def wrote() -> bool:
    """Whether the open transaction holds work: rows flushed or pending, statements that write, actions waiting."""
    session = db.session()
    return bool(
        session.info.get(WROTE)
        or session.info.get(PENDING)
        or session.new
        or session.deleted
        or any(session.is_modified(instance) for instance in session.dirty)
    )


def finish_request(response: Response) -> Response:
    """Commit a request that succeeded, roll back one that didn't; then hand over what waited for the commit.

    A request that wrote nothing is left as it is: its transaction ends with the session at teardown,
    and what it loaded (the logged-in user, for the request's log line) isn't expired and read again.
    """
    if wrote():
        if succeeded(response):
            try:
                db.session.commit()
            except Exception as error:
                db.session.rollback()
                _keep_the_browsers_session()
                response = _error_answer(error)
        else:
            db.session.rollback()
    run_committed_actions()
    _hand_over_committed_work()
    return response


def run_committed_actions() -> None:
    """Run, once each, the `on_commit` actions whose transaction committed; a failing one is logged."""
    actions = db.session.info.pop(COMMITTED, [])
    for action in actions:
        try:
            action()
        except Exception:
            log.exception("an action after the commit failed")


def _keep_the_browsers_session() -> None:
    """The browser keeps the session cookie it came with: no "saved" message, no login or logout that
    the rolled-back work was to make real."""
    came_with = current_app.session_interface.open_session(current_app, request)
    if came_with is not None:
        session.clear()
        session.update(came_with)
    request_ctx.flashes = None


def _error_answer(error: Exception) -> Response:
    """The page the app's error handlers give this error (500, or 503 when the database is unreachable)."""
    app = current_app._get_current_object()
    return app.make_response(app.handle_user_exception(error))


def _hand_over_committed_work() -> None:
    from .jobs import dispatch_committed

    try:
        dispatch_committed()
    except Exception:
        log.exception("committed work could not be handed over after the request")


# ---------------------------------------------------------------------------
# Which actions committed: followed through the session's events
# ---------------------------------------------------------------------------


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """Whether `transaction` is `ended` or was begun inside it (None: registered before any began)."""
    if transaction is None:
        return ended.parent is None
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _flushed(session: OrmSession, flush_context) -> None:
    session.info[WROTE] = True


def _executed(state) -> None:
    """Statements sent past the unit of work (bulk UPDATE, INSERT … ON CONFLICT, text): all but SELECT write."""
    if not state.is_select:
        state.session.info[WROTE] = True


def _ended(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(WROTE, None)


def _committed(session: OrmSession) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint released: its actions wait for the transaction around it
    pending = session.info.pop(PENDING, [])
    if pending:
        session.info.setdefault(COMMITTED, []).extend(action for _transaction, action in pending)


def _rolled_back(session: OrmSession, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(PENDING)
    if pending:
        session.info[PENDING] = [(t, action) for t, action in pending if not _within(t, previous_transaction)]


def follow_commits(session_class: type[OrmSession]) -> None:
    """Note whether a transaction wrote; keep an `on_commit` action when its transaction commits, drop it when
    it rolls back."""
    listeners = (
        ("after_flush", _flushed),
        ("do_orm_execute", _executed),
        ("after_transaction_end", _ended),
        ("after_commit", _committed),
        ("after_soft_rollback", _rolled_back),
    )
    for name, listener in listeners:
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)


def register_unit_of_work(app: Flask) -> None:
    """Registered after the application's other `after_request` functions, so it runs before them (a
    blueprint's run earlier still): the commit is decided before the page cache stores an answer, the
    security headers are put on it (an error page included) and Flask-Login writes its cookie."""
    from .extensions import Session

    follow_commits(Session)
    app.after_request(finish_request)
