"""Log hygiene's hook point in llama-stack 0.7 and the line bound."""

from __future__ import annotations

import inspect
import logging

from llama_stack.core.server import server

from llama_stack_argocd.logs import MAX_LINE_CHARS, BoundedLines, install_log_hygiene


def test_the_server_registers_its_exception_handler_by_module_name():
    """install_log_hygiene replaces `server.global_exception_handler` before create_app registers it by that name;
    this fails if llama-stack moves the handler or stops looking it up there."""
    source = inspect.getsource(server.create_app)
    assert "app.exception_handler(RequestValidationError)(global_exception_handler)" in source
    assert "traceback.print_exception" in inspect.getsource(server.global_exception_handler) or getattr(
        server.global_exception_handler, "_argocd_quiet", False)
    install_log_hygiene()
    assert getattr(server.global_exception_handler, "_argocd_quiet", False)
    assert "print_exception" not in inspect.getsource(server.global_exception_handler)


def test_long_records_are_cut_and_say_so():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", ("y" * 50_000,), None)
    assert BoundedLines().filter(record)
    assert len(record.getMessage()) < MAX_LINE_CHARS + 60 and "characters cut" in record.getMessage()
    short = logging.LogRecord("x", logging.INFO, __file__, 1, "ok %s", ("z",), None)
    assert BoundedLines().filter(short) and short.getMessage() == "ok z"


def test_the_per_round_service_tier_warning_is_dropped_and_other_warnings_stay():
    """llama-stack's builtin Responses logs it on every model round of a provider without service tiers."""
    from llama_stack.providers.inline.responses.builtin.responses import streaming

    assert 'logger.warning("Service tier is None, setting to default")' in inspect.getsource(streaming)
    name = streaming.__name__
    noise = logging.LogRecord(name, logging.WARNING, __file__, 1, {"event": "Service tier is None, setting to default",
                                                                    "category": "openai_responses"}, (), None)
    assert not BoundedLines().filter(noise)
    other = logging.LogRecord(name, logging.WARNING, __file__, 1, {"event": "Model refresh failed"}, (), None)
    assert BoundedLines().filter(other)
    elsewhere = logging.LogRecord("x", logging.WARNING, __file__, 1, "Service tier is None, setting to default", (), None)
    assert BoundedLines().filter(elsewhere)
