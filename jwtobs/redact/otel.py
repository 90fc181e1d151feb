"""Redacting OpenTelemetry exporters: wrap the exporter you already use.

>>> provider.add_span_processor(BatchSpanProcessor(RedactingSpanExporter(OTLPSpanExporter())))
>>> logger_provider.add_log_record_processor(BatchLogRecordProcessor(RedactingLogExporter(OTLPLogExporter())))

Spans: attribute values (credential-header attributes such as ``http.request.header.authorization`` and
secret-named ones replaced whole, other strings scanned), event and link attributes (``exception.message``,
``exception.stacktrace``), the status description, span names and event names are scrubbed (a name built
from a URL or a message can hold a token); the resource is exported as it is. Log records: body and
attributes. The SDK's objects are never modified: a span or record that needs scrubbing is exported as a
copy, a clean one as it is. A value whose scrubbing fails is exported as ``[REDACTION_FAILED]``. Redactions
are counted with sink ``otel_spans`` / ``otel_logs``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from jwtobs import extras

try:
    from opentelemetry.attributes import BoundedAttributes
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import Link, Status
except ModuleNotFoundError as _exc:  # the extra is not installed: say which
    raise extras.missing(_exc, "jwtobs.redact.otel") from None

from jwtobs.redact.processors import RedactorCore
from jwtobs.redact.scrub import FAILED, Scrubber

__all__ = ["RedactingLogExporter", "RedactingSpanExporter"]


def _attributes(core: RedactorCore, attrs: Mapping[str, Any] | None) -> BoundedAttributes | None:
    """Scrubbed copy of an attribute mapping (keeping its dropped count), or None when nothing changed."""
    if not attrs:
        return None
    try:
        out = core.items(attrs)
    except Exception:  # pragma: no cover - items() fails closed per value
        out = dict.fromkeys(attrs, FAILED)
    if out is None:
        return None
    bounded = BoundedAttributes(maxlen=None, attributes=out, immutable=True)
    bounded.dropped = getattr(attrs, "dropped", 0)
    return bounded


class _RedactedSpan(ReadableSpan):
    """A scrubbed copy of a finished span; dropped counts are those of the original."""

    def __init__(self, original: ReadableSpan, **changes: Any) -> None:
        fields: dict[str, Any] = {
            "name": original.name,
            "context": original.context,
            "parent": original.parent,
            "resource": original.resource,
            "attributes": original.attributes,
            "events": original.events,
            "links": original.links,
            "kind": original.kind,
            "status": original.status,
            "start_time": original.start_time,
            "end_time": original.end_time,
            "instrumentation_scope": original.instrumentation_scope,
        }
        fields.update(changes)
        super().__init__(**fields)
        self._dropped = (original.dropped_attributes, original.dropped_events, original.dropped_links)

    @property
    def dropped_attributes(self) -> int:
        return self._dropped[0]

    @property
    def dropped_events(self) -> int:
        return self._dropped[1]

    @property
    def dropped_links(self) -> int:
        return self._dropped[2]


class RedactingSpanExporter(SpanExporter):
    """Wraps any ``SpanExporter``: exports scrubbed copies of the spans that hold a credential."""

    def __init__(self, inner: SpanExporter, *, sink: str = "otel_spans", scrubber: Scrubber | None = None) -> None:
        self._inner = inner
        self._core = RedactorCore(sink, scrubber)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([self.redact(s) for s in spans])

    def redact(self, span: ReadableSpan) -> ReadableSpan:
        """The span itself when clean, else a scrubbed copy. Never raises (fails closed per value)."""
        core = self._core
        changes: dict[str, Any] = {}
        name = _name(core, span.name)
        if name is not span.name:
            changes["name"] = name
        attrs = _attributes(core, span.attributes)
        if attrs is not None:
            changes["attributes"] = attrs
        events, events_changed = [], False
        for ev in span.events:
            ev_attrs = _attributes(core, ev.attributes)
            ev_name = _name(core, ev.name)
            if ev_attrs is None and ev_name is ev.name:
                events.append(ev)
            else:
                events_changed = True
                events.append(Event(ev_name, ev.attributes if ev_attrs is None else ev_attrs, ev.timestamp))
        if events_changed:
            changes["events"] = tuple(events)
        links, links_changed = [], False
        for link in span.links:
            link_attrs = _attributes(core, link.attributes)
            if link_attrs is None:
                links.append(link)
            else:
                links_changed = True
                links.append(Link(link.context, link_attrs))
        if links_changed:
            changes["links"] = tuple(links)
        description = span.status.description
        if description:
            try:
                scrubbed = core.text(description)
            except Exception:
                scrubbed = FAILED
            if scrubbed is not description:
                changes["status"] = Status(span.status.status_code, scrubbed)
        if not changes:
            return span
        try:
            return _RedactedSpan(span, **changes)
        except Exception:  # cannot build a copy: export the span with every attribute withheld
            return _RedactedSpan(
                span, name=FAILED, attributes={k: FAILED for k in span.attributes or {}}, events=(), links=()
            )

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _name(core: RedactorCore, name: str) -> str:
    """A span's or event's name, scrubbed (the same object when clean; ``FAILED`` when scrubbing fails)."""
    try:
        return core.text(name)
    except Exception:
        return FAILED


def _differs(a: Any, b: Any) -> bool:
    try:
        return bool(a != b)
    except Exception:
        return True


class RedactingLogExporter(LogRecordExporter):
    """Wraps any OpenTelemetry ``LogRecordExporter`` (``opentelemetry.sdk._logs``): exports scrubbed copies
    of the records whose body or attributes hold a credential."""

    def __init__(self, inner: LogRecordExporter, *, sink: str = "otel_logs", scrubber: Scrubber | None = None) -> None:
        self._inner = inner
        self._core = RedactorCore(sink, scrubber)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return self._inner.export([self.redact(r) for r in batch])

    def redact(self, record: ReadableLogRecord) -> ReadableLogRecord:
        """The record itself when clean, else a scrubbed copy. Never raises (fails closed per value)."""
        core = self._core
        lr = record.log_record
        body = lr.body
        try:
            new_body = core.text(body) if isinstance(body, str) else core.scrubber.value(body)
        except Exception:
            new_body = FAILED
        attrs = _attributes(core, lr.attributes)
        exception = getattr(lr, "exception", None)
        try:
            exception_dirty = exception is not None and core.probe.value(exception) is not exception
        except Exception:
            exception_dirty = True
        body_changed = new_body is not body and _differs(new_body, body)
        if not body_changed and attrs is None and not exception_dirty:
            return record
        new = copy.copy(lr)
        new.body = new_body
        if attrs is not None:
            new.attributes = attrs
        if exception is not None:
            new.exception = None  # its message and traceback are in the (scrubbed) attributes
        return ReadableLogRecord(
            log_record=new,
            resource=record.resource,
            instrumentation_scope=record.instrumentation_scope,
            limits=record.limits,
        )

    def shutdown(self) -> None:
        self._inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
