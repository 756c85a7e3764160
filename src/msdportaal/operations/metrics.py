"""Prometheus metrics, computed from the database at scrape time.

The database is the source of truth, so every web process reports the same numbers:
no per-process counters that a restart resets or a load balancer splits. Counters
(``_total``) are sums over rows that are never deleted, so they only go up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db.models import Count, Min, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from msdportaal.deliveries.models import Delivery
from msdportaal.notifications.models import DeliveryState, EmailLedger
from msdportaal.reports.models import Report, ReportKind
from msdportaal.transport.models import MessageKind, MessageState, OutboundMessage

#: Not yet accepted by RINIS: the outbound queue.
UNSENT = (MessageState.QUEUED, MessageState.RETRYING, MessageState.SENDING)
#: A delivery whose outbox message was never created (should not happen: same transaction).
NO_MESSAGE = "none"


def _counts(queryset, field: str) -> dict[str, int]:
    return {
        row[field]: row["n"] for row in queryset.values(field).order_by().annotate(n=Count("pk"))
    }


def _gauge_by_choice(
    name: str, documentation: str, label: str, counts: dict[str, int], choices: Iterable[str]
) -> GaugeMetricFamily:
    """One sample per choice, also the ones at zero, so dashboards see every series."""
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for choice in choices:
        gauge.add_metric([choice], counts.get(choice, 0))
    return gauge


class PortalCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()

        deliveries = GaugeMetricFamily(
            "msd_deliveries",
            "Deliveries (uploaded files) by the state of their message to RINIS.",
            labels=["state"],
        )
        by_state = _counts(Delivery.objects.all(), "outbound_message__state")
        for state in MessageState:
            deliveries.add_metric([state.value], by_state.get(state.value, 0))
        deliveries.add_metric([NO_MESSAGE], by_state.get(None, 0))
        yield deliveries

        messages = GaugeMetricFamily(
            "msd_outbound_messages",
            "Messages to RINIS by kind and state.",
            labels=["kind", "state"],
        )
        rows = {
            (row["kind"], row["state"]): row["n"]
            for row in OutboundMessage.objects.values("kind", "state")
            .order_by()
            .annotate(n=Count("pk"))
        }
        for kind in MessageKind:
            for state in MessageState:
                messages.add_metric(
                    [kind.value, state.value], rows.get((kind.value, state.value), 0)
                )
        yield messages

        unsent = OutboundMessage.objects.filter(state__in=UNSENT).aggregate(
            n=Count("pk"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "msd_outbound_queue_depth",
            "Messages to RINIS not yet accepted (queued, retrying or sending).",
            value=unsent["n"],
        )
        oldest = unsent["oldest"]
        yield GaugeMetricFamily(
            "msd_outbound_oldest_unsent_age_seconds",
            "Age of the oldest message not yet accepted by RINIS; 0 when the queue is empty.",
            value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        )
        yield GaugeMetricFamily(
            "msd_outbound_failed_messages",
            "Messages RINIS did not accept within the retry window (IB was alerted).",
            value=sum(n for (_kind, state), n in rows.items() if state == MessageState.FAILED),
        )
        retries = OutboundMessage.objects.filter(attempts__gt=1).aggregate(
            n=Sum("attempts"), messages=Count("pk")
        )
        yield CounterMetricFamily(
            "msd_outbound_retries",
            "Send attempts beyond the first, summed over all messages to RINIS.",
            value=(retries["n"] or 0) - retries["messages"],
        )

        yield _gauge_by_choice(
            "msd_reports_received",
            "Reports received from CBS, by kind (only goes up: reports are never deleted).",
            "kind",
            _counts(Report.objects.all(), "kind"),
            ReportKind.values,
        )
        yield _gauge_by_choice(
            "msd_notification_emails",
            "E-mails in the ledger by state (queued, pending, sent, failed).",
            "state",
            _counts(EmailLedger.objects.all(), "state"),
            DeliveryState.values,
        )

        purged = GaugeMetricFamily(
            "msd_retention_purged_files",
            "Files whose contents were removed at the end of their retention period.",
            labels=["kind"],
        )
        purged.add_metric(["delivery"], Delivery.objects.filter(purged_at__isnull=False).count())
        purged.add_metric(["report"], Report.objects.filter(purged_at__isnull=False).count())
        yield purged


def registry() -> CollectorRegistry:
    """A registry of our own: only database-derived numbers, no per-process ones."""
    result = CollectorRegistry(auto_describe=False)
    result.register(PortalCollector())
    return result
