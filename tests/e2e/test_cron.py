"""test_cron.py: end-to-end tests of `fnhost cron` (host/src/cli/cli_cron.c): next
occurrences of NCRONTAB and TimeSpan schedules, time zones and DST, and the
error/usage exits. Each test_* takes ctx; ctx.fnhost is the binary's path."""

import os
import re
import subprocess


def _run(ctx, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("TZ", "WEBSITE_TIME_ZONE")}
    if env_extra:
        env.update(env_extra)
    p = subprocess.run([ctx.fnhost, "cron", *args], capture_output=True, text=True,
                       env=env, timeout=30)
    return p.returncode, p.stdout.splitlines(), p.stderr


def _ok(ctx, *args, env_extra=None):
    rc, out, err = _run(ctx, *args, env_extra=env_extra)
    assert rc == 0, (args, rc, err)
    assert err == "", (args, err)
    return out


def test_six_field_default_count(ctx):
    out = _ok(ctx, "0 */5 * * * *", "--from", "2026-01-31T23:52:30", "--tz", "UTC")
    assert out == ["2026-01-31T23:55:00", "2026-02-01T00:00:00", "2026-02-01T00:05:00",
                   "2026-02-01T00:10:00", "2026-02-01T00:15:00"], out


def test_five_field_fires_at_second_zero(ctx):
    out = _ok(ctx, "*/15 * * * *", "--from", "2026-01-31T23:59:30", "--count", "3")
    assert out == ["2026-02-01T00:00:00", "2026-02-01T00:15:00", "2026-02-01T00:30:00"], out


def test_leap_day_schedule(ctx):
    out = _ok(ctx, "0 0 0 29 2 *", "--from", "2025-01-01T00:00:00", "--count=2")
    assert out == ["2028-02-29T00:00:00", "2032-02-29T00:00:00"], out


def test_impossible_date_prints_never(ctx):
    out = _ok(ctx, "0 0 0 30 Feb *", "--from", "2025-01-01T00:00:00")
    assert out == ["never"], out


def test_day_of_month_and_day_of_week_both_match(ctx):
    # NCrontab ANDs the two fields: Friday the 13th, not "13th or any Friday".
    out = _ok(ctx, "0 0 0 13 * Fri", "--from", "2026-01-01T00:00:00", "--count", "3")
    assert out == ["2026-02-13T00:00:00", "2026-03-13T00:00:00", "2026-11-13T00:00:00"], out


def test_invalid_field_value(ctx):
    rc, out, err = _run(ctx, "0 61 * * * *")
    assert rc == 2, (rc, out, err)
    assert out == [], out
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "'61' is not a valid value for the minute field; use 0-59" in lines[0], err


def test_wrong_field_count(ctx):
    rc, out, err = _run(ctx, "* * *")
    assert rc == 2, (rc, out, err)
    assert out == [], out
    assert "has 3 fields" in err and "6 (second minute hour day month day-of-week)" in err, err


def test_timespan_schedules(ctx):
    out = _ok(ctx, "00:30:00", "--from", "2026-01-31T23:00:00", "--count", "3")
    assert out == ["2026-01-31T23:30:00", "2026-02-01T00:00:00", "2026-02-01T00:30:00"], out
    # .NET TimeSpan.Parse reads "24:00:00" as 24 days; "1.00:00:00" is one day.
    out = _ok(ctx, "24:00:00", "--from", "2026-01-01T00:00:00", "--count", "1")
    assert out == ["2026-01-25T00:00:00"], out
    out = _ok(ctx, "1.00:00:00", "--from", "2026-01-01T00:00:00", "--count", "2")
    assert out == ["2026-01-02T00:00:00", "2026-01-03T00:00:00"], out


def test_from_with_utc_suffix_converted_to_zone(ctx):
    out = _ok(ctx, "0 0 * * * *", "--from", "2026-01-31T23:30:00Z",
              "--tz", "America/New_York", "--count", "2")
    assert out == ["2026-01-31T19:00:00", "2026-01-31T20:00:00"], out
    out = _ok(ctx, "0 0 * * * *", "--from", "2026-02-01T01:30:00+02:00", "--count", "1")
    assert out == ["2026-02-01T00:00:00"], out


def test_dst_spring_forward_moves_forward(ctx):
    out = _ok(ctx, "0 30 2 * * *", "--from", "2026-03-07T12:00:00",
              "--tz", "America/New_York", "--count", "2")
    assert out == ["2026-03-08T03:30:00", "2026-03-09T02:30:00"], out


def test_dst_fall_back_point_in_time_runs_once(ctx):
    out = _ok(ctx, "0 30 1 * * *", "--from", "2026-10-31T12:00:00",
              "--tz", "America/New_York", "--count", "2")
    assert out == ["2026-11-01T01:30:00", "2026-11-02T01:30:00"], out


def test_dst_fall_back_interval_repeats_hour(ctx):
    out = _ok(ctx, "0 */30 * * * *", "--from", "2026-11-01T00:00:00",
              "--tz", "America/New_York", "--count", "6")
    assert out == ["2026-11-01T00:30:00", "2026-11-01T01:00:00", "2026-11-01T01:30:00",
                   "2026-11-01T01:00:00", "2026-11-01T01:30:00", "2026-11-01T02:00:00"], out


def test_zone_from_environment(ctx):
    args = ("0 0 10 * * *", "--from", "2026-01-01T00:00:00Z", "--count", "1")
    out = _ok(ctx, *args, env_extra={"WEBSITE_TIME_ZONE": "Eastern Standard Time"})
    assert out == ["2026-01-01T10:00:00"], out
    out = _ok(ctx, *args, env_extra={"TZ": "Asia/Tokyo"})
    assert out == ["2026-01-01T10:00:00"], out
    out = _ok(ctx, *args)
    assert out == ["2026-01-01T10:00:00"], out
    out = _ok(ctx, "0 0 * * * *", "--from", "2026-01-01T00:30:00Z", "--count", "1",
              env_extra={"TZ": "Asia/Kolkata"})
    assert out == ["2026-01-01T07:00:00"], out


def test_unknown_zone_and_bad_usage(ctx):
    rc, out, err = _run(ctx, "0 0 * * * *", "--tz", "Mars/Olympus_Mons")
    assert rc == 2 and out == [], (rc, out, err)
    assert "unknown time zone 'Mars/Olympus_Mons'" in err, err
    rc, out, err = _run(ctx, "0 0 * * * *", "--bogus")
    assert rc == 2 and out == [], (rc, out, err)
    assert "unknown option '--bogus'" in err and "usage: fnhost cron" in err, err
    rc, out, err = _run(ctx, "0 0 * * * *", "--count", "zero")
    assert rc == 2 and "usage: fnhost cron" in err, (rc, err)
    rc, out, err = _run(ctx, "0 0 * * * *", "--from", "yesterday")
    assert rc == 2 and "'yesterday' is not a valid --from time" in err, (rc, err)
    rc, out, err = _run(ctx)
    assert rc == 2 and "usage: fnhost cron" in err, (rc, err)


def test_default_from_is_now(ctx):
    out = _ok(ctx, "* * * * * *", "--tz", "UTC")
    assert len(out) == 5, out
    pat = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
    assert all(pat.match(line) for line in out), out
    secs = [int(line[17:19]) for line in out]
    for a, b in zip(secs, secs[1:]):
        assert b == (a + 1) % 60, out
