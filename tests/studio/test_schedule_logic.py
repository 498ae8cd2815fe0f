"""What the studio's schedule lists compute: fire times in the viewer's zone (UTC when the
browser sent none the server knows), paused schedules, who made them."""

from __future__ import annotations

import datetime as dt

from runtime.store.tables import Schedule
from studio.logic import schedules as logic

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)  # a Monday


def test_fire_times_are_shown_in_the_viewers_zone() -> None:
    row = Schedule(id=3, workflow_id=1, cron="0 9 * * MON-FRI", tz="Europe/Berlin", key=None)
    row.created_by = "ada"
    shown = logic.item(row, "team/report", "Asia/Tokyo", NOW)
    # 09:00 in Berlin (summer, +02:00) is 16:00 in Tokyo
    assert shown.next_fire == "Tue 2026-06-02 16:00:00 JST"
    assert len(shown.next_fires) == logic.SHOWN_FIRES
    assert shown.workflow_href == "/workflows/team%2Freport"
    assert (shown.source, shown.last_fire) == ("ada", "never")


def test_unknown_viewer_zone_falls_back_to_utc_and_paused_shows_no_fires() -> None:
    assert logic.viewer_zone("Mars/Olympus") == "UTC"
    assert logic.viewer_zone("America/New_York") == "America/New_York"
    row = Schedule(id=4, workflow_id=1, cron="* * * * *", paused=True, key="code:x")
    shown = logic.item(row, "w", "UTC", NOW)
    assert (shown.next_fire, shown.next_fires, shown.source) == ("paused", [], "code")
