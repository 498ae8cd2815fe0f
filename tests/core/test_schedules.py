"""Cron schedules and delayed runs: fire times in a time zone (both DST changes), the
scheduler on a clock the test steps (no sleeps), overlap and catch-up policies, exactly one run
per fire time with two schedulers, delayed runs and their cancellation, and bad input refused
with nothing stored. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import runtime as rt
from runtime import schedules
from runtime.cron import Cron, CronError
from runtime.errors import InputError, NotFound
from runtime.scheduler import Scheduler
from runtime.schedules import ScheduleError

BERLIN = ZoneInfo("Europe/Berlin")


class Clock:
    """Now, moved by the test."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def local(times: list[dt.datetime]) -> list[str]:
    return [t.astimezone(BERLIN).strftime("%m-%d %H:%M%z") for t in times]


# -- fire times --------------------------------------------------------------------------------


def test_spring_forward_fires_a_skipped_daily_time_once_right_after_the_gap() -> None:
    daily = Cron("30 2 * * *", "Europe/Berlin")
    start = dt.datetime(2026, 3, 27, 12, tzinfo=BERLIN)
    assert local(daily.next(start, 3)) == [
        "03-28 02:30+0100",
        "03-29 03:00+0200",  # 02:30 does not exist that day: once, at the end of the gap
        "03-30 02:30+0200",
    ]
    nine = Cron("0 9 * * MON-FRI", "Europe/Berlin")
    # 09:00 Berlin is 08:00 UTC before the change and 07:00 UTC after it
    fires = nine.next(dt.datetime(2026, 3, 26, 12, tzinfo=BERLIN), 3)
    assert [f.strftime("%d %H:%MZ") for f in fires] == ["27 08:00Z", "30 07:00Z", "31 07:00Z"]


def test_fall_back_fires_a_repeated_daily_time_once_and_hourly_every_real_hour() -> None:
    daily = Cron("30 2 * * *", "Europe/Berlin")
    start = dt.datetime(2026, 10, 24, 12, tzinfo=BERLIN)
    assert local(daily.next(start, 3)) == [
        "10-25 02:30+0200",  # 02:30 happens twice that night: fired at the first only
        "10-26 02:30+0100",
        "10-27 02:30+0100",
    ]
    hourly = Cron("0 * * * *", "Europe/Berlin")
    night = dt.datetime(2026, 10, 25, 0, 30, tzinfo=BERLIN)
    assert local(hourly.next(night, 4)) == [
        "10-25 01:00+0200",
        "10-25 02:00+0200",
        "10-25 02:00+0100",  # the clock shows 02:00 again an hour later
        "10-25 03:00+0100",
    ]


@pytest.mark.parametrize(
    ("expr", "tz", "message"),
    [
        ("0 9 * *", "UTC", "has 4 fields; expected 5"),
        ("0 25 * * *", "UTC", "'0 25 \\* \\* \\*' is not valid"),
        ("every day", "UTC", "has 2 fields"),
        ("0 9 * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("0 9 * * *", "Europe", "unknown time zone 'Europe'"),
        ("0 0 31 2 *", "UTC", "never fires"),
    ],
)
def test_bad_cron_or_zone_is_named(expr: str, tz: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        Cron(expr, tz)


def test_catch_up_takes_the_latest_fires_without_replaying_a_long_downtime() -> None:
    every_minute = Cron("* * * * *")
    now = dt.datetime(2026, 1, 1, 12, 0, 30, tzinfo=dt.UTC)
    year_ago = now - dt.timedelta(days=365)
    assert every_minute.due(year_ago, now, 1) == [now.replace(second=0)]
    assert [f.minute for f in every_minute.due(year_ago, now, 3)] == [58, 59, 0]
    assert every_minute.due(now - dt.timedelta(seconds=10), now, 3) == []


# -- the scheduler ----------------------------------------------------------------------------


def waiting_graph() -> rt.Graph:
    """Each run stays unfinished (waiting) until answered: the previous run is "active"."""
    g = rt.Graph("nightly")

    @g.node
    def report(day: str = "today") -> str:
        return f"report for {day}"

    g.wait("approve", {"ok": bool}, after=["report"])
    return g


def quick_graph() -> rt.Graph:
    g = rt.Graph("quick")

    @g.node
    def hello(name: str = "world") -> str:
        return f"hello {name}"

    return g


def started_runs(client: rt.Client, workflow: str) -> list[rt.Run]:
    """The runs the schedule started, each waited for (finished or waiting)."""
    runs = client.runs(workflow=workflow, trigger="schedule", limit=500)
    for run in runs:
        run.wait(timeout=30)
    return runs


def make_schedule(client: rt.Client, graph: rt.Graph, cron: str = "* * * * *", **kw: object):
    client.publish(graph)
    schedule, _ = schedules.create(client, graph.name, cron, **kw)  # type: ignore[arg-type]
    return schedule


def test_each_fire_time_starts_one_run_linked_to_its_schedule(client: rt.Client) -> None:
    g = quick_graph()
    schedule = make_schedule(client, g, inputs={"name": "cron"}, overlap="allow")
    clock = Clock(dt.datetime.now(dt.UTC))
    scheduler = Scheduler(client, clock=clock)
    assert scheduler.tick() == []  # nothing due yet
    clock.advance(minutes=1)
    (fired,) = scheduler.tick()
    assert fired.outcome == "started" and fired.schedule_id == schedule.id
    assert scheduler.tick() == []  # the same fire time is not fired again
    (run,) = started_runs(client, "quick")
    assert run.record.trigger == "schedule"
    assert run.record.trigger_ref == f"schedule:{schedule.id}"
    assert run.wait(timeout=30).status == "succeeded"
    assert run.outputs == {"hello": "hello cron"}
    clock.advance(minutes=2)
    assert len(scheduler.tick()) == 1  # two fire times passed; catch-up 1 starts the latest
    assert len(started_runs(client, "quick")) == 2


def test_two_schedulers_start_each_fire_time_once(client: rt.Client) -> None:
    g = quick_graph()
    make_schedule(client, g, overlap="allow", catchup=5)
    clock = Clock(dt.datetime.now(dt.UTC))
    one, two = Scheduler(client, clock=clock), Scheduler(client, clock=clock)
    for _ in range(5):
        clock.advance(minutes=1)
        one.tick()
        two.tick()
    assert len(started_runs(client, "quick")) == 5
    one.leadership.release()
    two.leadership.release()


def test_overlap_skip_does_not_start_while_the_previous_run_is_active(client: rt.Client) -> None:
    g = waiting_graph()
    schedule = make_schedule(client, g)
    clock = Clock(dt.datetime.now(dt.UTC))
    scheduler = Scheduler(client, clock=clock)
    clock.advance(minutes=1)
    (first,) = scheduler.tick()
    run = rt.get_run(first.run_id)  # type: ignore[arg-type]
    assert run.wait(timeout=30).status == "waiting"
    clock.advance(minutes=1)
    assert [f.outcome for f in scheduler.tick()] == ["skipped"]
    run.resume("approve", ok=True)
    assert run.wait(timeout=30).status == "succeeded"
    clock.advance(minutes=1)
    assert [f.outcome for f in scheduler.tick()] == ["started"]
    assert len(started_runs(client, "nightly")) == 2
    outcomes = [f.outcome for f in client.store.schedule_fires(schedule.id)]  # type: ignore[arg-type]
    assert outcomes == ["started", "skipped", "started"]


def test_overlap_allow_starts_alongside(client: rt.Client) -> None:
    g = waiting_graph()
    make_schedule(client, g, overlap="allow")
    clock = Clock(dt.datetime.now(dt.UTC))
    scheduler = Scheduler(client, clock=clock)
    for _ in range(3):
        clock.advance(minutes=1)
        assert [f.outcome for f in scheduler.tick()] == ["started"]
    assert len(started_runs(client, "nightly")) == 3


def test_overlap_queue_one_keeps_one_fire_until_the_previous_run_ends(client: rt.Client) -> None:
    g = waiting_graph()
    make_schedule(client, g, overlap="queue_one")
    clock = Clock(dt.datetime.now(dt.UTC))
    scheduler = Scheduler(client, clock=clock)
    clock.advance(minutes=1)
    (first,) = scheduler.tick()
    run = rt.get_run(first.run_id)  # type: ignore[arg-type]
    assert run.wait(timeout=30).status == "waiting"
    clock.advance(minutes=1)
    assert [f.outcome for f in scheduler.tick()] == ["pending"]
    clock.advance(minutes=1)
    assert [f.outcome for f in scheduler.tick()] == ["skipped"]  # one is queued already
    assert len(started_runs(client, "nightly")) == 1
    run.resume("approve", ok=True)
    assert run.wait(timeout=30).status == "succeeded"
    (queued,) = scheduler.tick()  # no new fire time: the pending one starts
    assert queued.outcome == "started" and queued.fire_at == first.fire_at + dt.timedelta(minutes=1)
    assert len(started_runs(client, "nightly")) == 2


def test_catch_up_window_starts_at_most_that_many_missed_fires(client: rt.Client) -> None:
    g = quick_graph()
    make_schedule(client, g, overlap="allow", catchup=3)
    clock = Clock(dt.datetime.now(dt.UTC))
    scheduler = Scheduler(client, clock=clock)
    clock.advance(hours=5)  # no scheduler ran for 300 fire times
    fired = scheduler.tick()
    assert [f.outcome for f in fired] == ["started"] * 3
    assert fired[-1].fire_at == clock.now.replace(second=0, microsecond=0)
    assert len(started_runs(client, "quick")) == 3


def test_paused_schedule_does_not_fire_and_resume_does_not_replay(client: rt.Client) -> None:
    g = quick_graph()
    schedule = make_schedule(client, g)
    assert schedule.id is not None
    clock = Clock(dt.datetime.now(dt.UTC))
    scheduler = Scheduler(client, clock=clock)
    client.store.set_schedule_paused(schedule.id, True)
    clock.advance(minutes=3)
    assert scheduler.tick() == []
    client.store.set_schedule_paused(schedule.id, False)  # cursor moves to now (real time)
    clock.now = dt.datetime.now(dt.UTC)
    assert scheduler.tick() == []
    clock.advance(minutes=1)
    assert len(scheduler.tick()) == 1
    assert len(started_runs(client, "quick")) == 1


def test_schedule_declared_in_code_is_registered_once_on_publish(client: rt.Client) -> None:
    g = rt.Graph("declared")

    @g.schedule("*/5 * * * *", tz="Europe/Berlin", inputs={"name": "code"})
    def hello(name: str) -> str:
        return f"hello {name}"

    assert "hello" in g.nodes
    client.publish(g)
    client.publish(g)
    (found,) = client.store.schedules("declared")
    schedule, _ = found
    assert (schedule.cron, schedule.tz, schedule.inputs) == (
        "*/5 * * * *",
        "Europe/Berlin",
        {"name": "code"},
    )
    assert schedule.key and schedule.created_by == "code"


def test_declared_schedule_bad_input_is_refused(client: rt.Client) -> None:
    g = rt.Graph("declared")
    with pytest.raises(CronError, match="has 1 fields"):
        g.schedule("daily")
    with pytest.raises(ScheduleError, match="overlap must be one of skip, allow, queue_one"):
        g.schedule("* * * * *", overlap="never")

    @g.node
    def hello(name: str) -> str:
        return name

    g.schedule("* * * * *")  # no value for the required input `name`
    with pytest.raises(InputError, match="name"):
        client.publish(g)
    assert client.store.workflows() == []  # nothing stored


def test_a_schedule_declared_after_a_publish_is_checked_and_stored(client: rt.Client) -> None:
    """A notebook: the graph ran (so its version is published), a later cell declares a
    schedule and publishes the same code again."""
    g = rt.Graph("declared_later")

    @g.node
    def hello(name: str = "world") -> str:
        return name

    first = client.publish(g)
    g.schedule("* * * * *", inputs={"name": 3})
    with pytest.raises(InputError, match="input 'name' expects str"):
        client.publish(g)
    assert client.store.schedules() == []
    g.schedules.clear()
    g.schedule("*/5 * * * *", inputs={"name": "ada"})
    assert client.publish(g).id == first.id  # the same version: schedules are not code
    client.publish(g)
    ((stored, workflow),) = client.store.schedules()
    assert (workflow, stored.cron, stored.inputs) == (
        "declared_later",
        "*/5 * * * *",
        {"name": "ada"},
    )


def test_create_refuses_bad_input_and_stores_nothing(client: rt.Client) -> None:
    g = quick_graph()
    client.publish(g)
    with pytest.raises(NotFound, match="no workflow named 'nope'"):
        schedules.create(client, "nope", "* * * * *")
    with pytest.raises(CronError, match="unknown time zone 'Nowhere'"):
        schedules.create(client, "quick", "* * * * *", tz="Nowhere")
    with pytest.raises(InputError, match="colour"):
        schedules.create(client, "quick", "* * * * *", inputs={"colour": "red"})
    with pytest.raises(ScheduleError, match="catchup"):
        schedules.create(client, "quick", "* * * * *", catchup=-1)
    with pytest.raises(NotFound):
        schedules.create(client, "quick", "* * * * *", version="ffffffff")
    assert client.store.schedules() == []


def test_next_fires_are_the_next_ten() -> None:
    from runtime.store.tables import Schedule

    row = Schedule(workflow_id=1, cron="0 9 * * MON-FRI", tz="Europe/Berlin")
    monday = dt.datetime(2026, 6, 1, 0, tzinfo=dt.UTC)
    fires = schedules.next_fires(row, 10, monday)
    assert len(fires) == 10
    assert all(f.astimezone(BERLIN).hour == 9 and f.astimezone(BERLIN).weekday() < 5 for f in fires)


# -- delayed runs -----------------------------------------------------------------------------


def test_delayed_run_is_scheduled_then_started_when_due(client: rt.Client) -> None:
    g = quick_graph()
    run = g.run(delay=dt.timedelta(hours=1), name="later")
    record = run.record
    assert record.status == "scheduled" and record.start_at is not None
    assert run.nodes["hello"].status == "pending"  # no worker holds it
    clock = Clock(dt.datetime.now(dt.UTC))
    scheduler = Scheduler(client, clock=clock, schedules=False)
    scheduler.tick()
    assert run.status == "scheduled"
    clock.now = record.start_at
    scheduler.tick()
    assert run.wait(timeout=30).status == "succeeded"
    assert run.outputs == {"hello": "hello later"}


def test_delayed_run_with_start_at_can_be_cancelled_before_it_starts(client: rt.Client) -> None:
    g = quick_graph()
    at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    run = g.run(start_at=at)
    assert run.record.start_at == at
    assert run.cancel() == "cancelled"
    Scheduler(client, clock=lambda: at + dt.timedelta(hours=1), schedules=False).tick()
    assert run.status == "cancelled"
    assert run.record.started_at is None


def test_delayed_run_bad_input(client: rt.Client) -> None:
    g = quick_graph()
    with pytest.raises(InputError, match="start_at must carry a time zone"):
        g.run(start_at=dt.datetime(2030, 1, 1, 9))
    with pytest.raises(InputError, match="start_at or delay, not both"):
        g.run(start_at=dt.datetime.now(dt.UTC), delay=dt.timedelta(1))
    with pytest.raises(InputError, match="delay must be a timedelta"):
        g.run(delay=60)
    assert client.runs() == []


def test_a_start_time_already_past_starts_at_once(client: rt.Client) -> None:
    g = quick_graph()
    run = g.run(start_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    assert run.wait(timeout=30).status == "succeeded"


def test_an_embedded_client_starts_its_own_delayed_run_when_due(client: rt.Client) -> None:
    g = quick_graph()
    at = dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=300)
    run = g.run(start_at=at, name="soon")  # no scheduler process: the client queues it
    assert run.status == "scheduled"
    assert run.wait(timeout=30).status == "succeeded"
    started = run.record.started_at
    assert started is not None and started >= at


def test_a_fire_that_cannot_start_a_run_is_recorded_once_with_why(client: rt.Client) -> None:
    g = quick_graph()
    schedule = make_schedule(client, g, inputs={"name": "x"}, overlap="allow")
    assert schedule.id is not None
    changed = rt.Graph("quick")  # a new version without the input the schedule gives

    @changed.node
    def hello() -> str:
        return "hello"

    client.publish(changed)
    clock = Clock(dt.datetime.now(dt.UTC))
    scheduler = Scheduler(client, clock=clock)
    clock.advance(minutes=1)
    assert [f.outcome for f in scheduler.tick()] == ["failed"]
    assert scheduler.tick() == []  # not retried each round
    (fire,) = client.store.schedule_fires(schedule.id)
    assert fire.outcome == "failed" and fire.run_id is None
    assert fire.error and "name" in fire.error
    assert client.runs(trigger="schedule") == []
