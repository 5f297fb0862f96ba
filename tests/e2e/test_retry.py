"""End-to-end tests of retry policies (host.json and function.json "retry"):
fixedDelay and exponentialBackoff counts and delays with Azure's log line,
the retry context the function sees (across the worker protocol to an
isolated child, and in process), timer retries, an extension trigger that
opts in (its complete() hears of the last try only), infinite retries
ended by stopping the host, HTTP functions retried (the caller gets the
last try's answer), and config errors."""
import json
import os
import re
import time

from harness import http_function
from test_extensions import manifest_dir, tick_entry

WAITING = re.compile(r"Waiting for `([0-9:.]+)` before retrying function execution\. "
                     r"Next attempt: '(\d+)'\. Max retry count: '(-?\d+)'")


def span_ms(s):
    """A .NET TimeSpan text ("00:00:00.2500000") in milliseconds."""
    h, m, sec = s.split(":")
    return round((int(h) * 3600 + int(m) * 60 + float(sec)) * 1000)


def timer_fn(retry=None, schedule="0 0 0 1 1 *"):
    """A timer function that runs once at start-up (the schedule is yearly)."""
    fj = {"bindings": [{"type": "timerTrigger", "direction": "in", "name": "myTimer",
                        "schedule": schedule, "runOnStartup": True, "useMonitor": False}],
          "scriptFile": "flaky.so"}
    if retry:
        fj["retry"] = retry
    return fj


def retry_app(ctx, functions, host_retry=None, values=None):
    files = {}
    for name, fj in functions.items():
        files[f"{name}/function.json"] = fj
        files[f"{name}/flaky.so"] = ("copy", ctx.so("retry", "flaky"))
    if values:
        files["local.settings.json"] = {"Values": values}
    host_json = {"version": "2.0"}
    if host_retry:
        host_json["retry"] = host_retry
    return ctx.make_app(files, host_json)


def wait_count(h, needle, n, timeout=30):
    deadline = time.time() + timeout
    while h.output.count(needle) < n and time.time() < deadline:
        time.sleep(0.02)
    assert h.output.count(needle) >= n, h.output[-4000:]
    return h.output


FIXED = {"strategy": "fixedDelay", "maxRetryCount": 2, "delayInterval": "00:00:00.2"}


def test_fixed_delay_retries_a_failing_timer_function_max_times(ctx):
    h = ctx.start(retry_app(ctx, {"tick": timer_fn(FIXED)}))
    out = wait_count(h, "Executed 'Functions.tick' (Failed", 3)
    # one try and two retries, each announced with Azure's line, then it stops
    waits = WAITING.findall(out)
    assert waits == [("00:00:00.2000000", "1", "2"), ("00:00:00.2000000", "2", "2")], out
    assert "retry: count=0 max=2 last=0 exception=(null)" in out
    assert "retry: count=1 max=2 last=-5 exception=Input/output error" in out
    assert "retry: count=2 max=2 last=-5 exception=Input/output error" in out
    # each try is its own invocation, with its own id
    ids = re.findall(r"Executing 'Functions\.tick' \(Reason='[^']*', Id=([0-9a-f-]+)\)", out)
    assert len(ids) == 3 and len(set(ids)) == 3, out
    time.sleep(0.6)  # three delays' worth: no fourth try comes
    assert h.output.count("Executing 'Functions.tick'") == 3, h.output


def test_retry_stops_at_the_first_success(ctx):
    app = retry_app(ctx, {"tick": timer_fn(FIXED)}, values={"FLAKY_SUCCEED_AFTER": "1"})
    h = ctx.start(app)
    out = wait_count(h, "Executed 'Functions.tick' (Succeeded", 1)
    assert len(WAITING.findall(out)) == 1, out
    assert out.count("Executing 'Functions.tick'") == 2
    assert out.count("Executed 'Functions.tick' (Failed") == 1


def test_exponential_backoff_grows_from_minimum_to_maximum(ctx):
    policy = {"strategy": "exponentialBackoff", "maxRetryCount": 4,
              "minimumInterval": "00:00:00.1", "maximumInterval": "00:00:00.4"}
    h = ctx.start(retry_app(ctx, {"tick": timer_fn(policy)}), "--in-process")
    out = wait_count(h, "Executed 'Functions.tick' (Failed", 5)
    waits = WAITING.findall(out)
    assert [w[1:] for w in waits] == [("1", "4"), ("2", "4"), ("3", "4"), ("4", "4")], out
    delays = [span_ms(w[0]) for w in waits]
    # the minimum first, then the minimum plus a doubling step (+-20%), capped
    assert delays[0] == 100, delays
    assert 180 <= delays[1] <= 220, delays
    assert 260 <= delays[2] <= 340, delays
    assert delays[3] == 400, delays
    # in process too, the function sees its context
    assert "retry: count=4 max=4 last=-5 exception=Input/output error" in out


def test_host_json_policy_applies_and_function_json_wins(ctx):
    app = retry_app(ctx, {"a": timer_fn(), "b": timer_fn({"strategy": "fixedDelay",
                                                            "maxRetryCount": 0,
                                                            "delayInterval": "00:00:00"})},
                    host_retry={"strategy": "fixedDelay", "maxRetryCount": 1,
                                "delayInterval": "00:00:00.1"})
    h = ctx.start(app)
    out = wait_count(h, "Executed 'Functions.a' (Failed", 2)
    out = wait_count(h, "Executed 'Functions.b' (Failed", 1)
    time.sleep(0.3)
    out = h.output
    assert out.count("Executing 'Functions.a'") == 2, out  # host.json: one retry
    assert out.count("Executing 'Functions.b'") == 1, out  # its own: none
    assert "retry: count=0 max=0 last=0" in out


def test_no_policy_means_no_retry_context(ctx):
    h = ctx.start(retry_app(ctx, {"tick": timer_fn()}))
    out = wait_count(h, "Executed 'Functions.tick' (Failed", 1)
    assert "retry: none (-2)" in out  # -ENOENT: Azure's RetryContext is null
    assert not WAITING.search(out)


def test_extension_trigger_that_opts_in_completes_once_after_the_last_try(ctx):
    d = manifest_dir(ctx, [tick_entry(ctx)])
    fj = {"bindings": [{"type": "tickTrigger", "direction": "in", "name": "tick", "count": 1}],
          "scriptFile": "flaky.so",
          "retry": {"strategy": "fixedDelay", "maxRetryCount": 2, "delayInterval": "00:00:00.1"}}
    h = ctx.start(retry_app(ctx, {"ticker": fj}), env={"FNHOST_EXTENSIONS_PATH": d})
    out = h.wait_log("complete token=1 ")
    assert out.count("Executed 'Functions.ticker' (Failed") == 3, out
    assert "complete token=1 status=-5 result=null" in out
    time.sleep(0.3)
    assert h.output.count("complete token=") == 1, h.output


def test_infinite_retries_end_when_the_host_stops(ctx):
    policy = {"strategy": "fixedDelay", "maxRetryCount": -1, "delayInterval": "00:00:00.05"}
    h = ctx.start(retry_app(ctx, {"tick": timer_fn(policy)}))
    wait_count(h, "Executed 'Functions.tick' (Failed", 5)
    assert "Max retry count: '-1'" in h.output
    assert "retry: count=4 max=-1 last=-5" in h.output
    t0 = time.time()
    h.stop()  # exits 0, no sanitizer report
    assert time.time() - t0 < 20
    tries = h.output.count("Executing 'Functions.tick'")
    assert h.output.count("Executed 'Functions.tick' (Failed") == tries


def test_http_functions_are_retried_and_answer_the_last_try(ctx):
    # as Azure's host retries them (its CustomHandlerRetry end-to-end test)
    fj = http_function(route="flaky", so="flaky.so")
    fj["retry"] = FIXED
    app = retry_app(ctx, {"web": fj}, host_retry=FIXED)
    h = ctx.start(app)
    assert "take no retry policy" not in h.output
    r = h.get("/api/flaky")
    assert r.status == 500  # it always fails: the third try's answer
    h.stop()  # every line written
    assert h.output.count("Executing 'Functions.web'") == 3, h.output
    assert "retry: count=2 max=2 last=-5" in h.output
    assert "Next attempt: '2'. Max retry count: '2'" in h.output


def test_http_retry_succeeds_on_a_later_try(ctx):
    fj = http_function(route="flaky", so="flaky.so")
    fj["retry"] = FIXED
    app = retry_app(ctx, {"web": fj}, values={"FLAKY_SUCCEED_AFTER": "1"})
    h = ctx.start(app)
    r = h.get("/api/flaky")
    assert (r.status, r.body) == (200, b"ok"), r
    h.stop()
    assert h.output.count("Executing 'Functions.web'") == 2, h.output


BAD_HOST = [
    ({"strategy": "sometimes", "maxRetryCount": 1},
     "host.json: retry.strategy: \"sometimes\" is not a retry strategy; write \"fixedDelay\" or "
     "\"exponentialBackoff\""),
    ({"strategy": "fixedDelay", "delayInterval": "00:00:01"},
     "host.json: retry.maxRetryCount: missing is not a retry count; write a whole number from 0 "
     "to 2147483647, or -1 to retry until the function succeeds"),
    ({"strategy": "fixedDelay", "maxRetryCount": -2, "delayInterval": "00:00:01"},
     "host.json: retry.maxRetryCount: -2 is not a retry count"),
    ({"strategy": "fixedDelay", "maxRetryCount": 3},
     "host.json: retry: the fixedDelay strategy needs \"delayInterval\"; add it as a TimeSpan "
     "such as \"00:00:05\""),
    ({"strategy": "exponentialBackoff", "maxRetryCount": 3, "minimumInterval": "00:00:01"},
     "host.json: retry: the exponentialBackoff strategy needs \"maximumInterval\""),
    ({"strategy": "exponentialBackoff", "maxRetryCount": 3, "minimumInterval": "00:00:10",
      "maximumInterval": "00:00:01"},
     "host.json: retry.maximumInterval: is shorter than minimumInterval; make it at least as "
     "long"),
    ({"strategy": "fixedDelay", "maxRetryCount": 3, "delayInterval": "soon"},
     "host.json: retry.delayInterval: \"soon\" is not a TimeSpan of zero or more"),
    ("fixedDelay", "host.json: retry: must be an object like {\"strategy\": \"fixedDelay\", "
                   "\"maxRetryCount\": 3, \"delayInterval\": \"00:00:05\"}, not a string"),
]


def test_bad_retry_policies_are_one_sentence_each(ctx):
    for retry, sentence in BAD_HOST:
        app = retry_app(ctx, {"tick": timer_fn()}, host_retry=retry)
        p = ctx.run("routes", "--script-root", app)
        assert p.returncode == 1, (retry, p.stderr)
        assert sentence in p.stderr, (retry, p.stderr)
    # in function.json the function is in error and the rest of the app runs
    app = retry_app(ctx, {"bad": timer_fn({"strategy": "fixedDelay", "maxRetryCount": 1}),
                          "good": timer_fn(FIXED)}, values={"FLAKY_SUCCEED_AFTER": "0"})
    h = ctx.start(app)
    h.wait_log("Executed 'Functions.good' (Succeeded")
    assert "bad/function.json: retry: the fixedDelay strategy needs \"delayInterval\"" \
           in h.output
    assert "Executing 'Functions.bad'" not in h.output
    # a typo in a policy is warned about
    app = retry_app(ctx, {"tick": timer_fn(dict(FIXED, maxRetryCont=5))})
    p = ctx.run("routes", "--script-root", app)
    assert "tick/function.json: retry.maxRetryCont: not a known setting" in p.stderr + p.stdout, \
        p.stderr


def test_environment_override_sets_the_policy(ctx):
    app = retry_app(ctx, {"tick": timer_fn()})
    with open(os.path.join(app, "host.json"), "w") as f:
        json.dump({"version": "2.0", "retry": {"strategy": "fixedDelay",
                                               "delayInterval": "00:00:00.1"}}, f)
    # AzureFunctionsJobHost__retry__maxRetryCount completes it (a string, as
    # environment values are)
    h = ctx.start(app, env={"AzureFunctionsJobHost__retry__maxRetryCount": "1"})
    out = wait_count(h, "Executed 'Functions.tick' (Failed", 2)
    assert [w[1:] for w in WAITING.findall(out)] == [("1", "1")], out


def test_retries_with_input_and_output_bindings_complete_once(ctx):
    # tests/apps/ext/tickfn fails for the tick named by TICK_FAIL_N; the
    # retries run through the worker pool with an input and an output binding
    from test_extensions import app as tick_app, tick_function
    d = manifest_dir(ctx, [tick_entry(ctx)])
    fj = tick_function(count=2, const="c-{n}")
    fj["retry"] = {"strategy": "fixedDelay", "maxRetryCount": 2, "delayInterval": "00:00:00.05"}
    h = ctx.start(tick_app(ctx, fj, values={"TICK_FAIL_N": "0"}),
                  env={"FNHOST_EXTENSIONS_PATH": d})
    out = h.wait_log("complete token=1 ")
    out = h.wait_log("complete token=2 ")
    assert "complete token=1 status=-5 result=null" in out  # three tries, the last failed
    assert "complete token=2 status=0 result=ret 1" in out
    assert out.count("Executed 'Functions.ticker' (Failed") == 3, out
    assert "memo 0:" not in out and "memo 1: got tick 1 n=1 const=c-1" in out


def test_a_long_delay_ends_when_the_host_stops(ctx):
    policy = {"strategy": "fixedDelay", "maxRetryCount": 3, "delayInterval": "10000.00:00:00"}
    h = ctx.start(retry_app(ctx, {"tick": timer_fn(policy)}))
    out = h.wait_log("Waiting for `10000.00:00:00` before retrying function execution. "
                     "Next attempt: '1'. Max retry count: '3'")
    assert out.count("Executing 'Functions.tick'") == 1
    t0 = time.time()
    h.stop()
    assert time.time() - t0 < 20
    assert h.output.count("Executing 'Functions.tick'") == 1
