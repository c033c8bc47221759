#!/usr/bin/env python3
"""A framework's own executor, Python 3 stdlib only, for the --wrap test.

It is what a framework would ship: a Mesos v1 HTTP API executor configured
by the agent's MESOS_* environment. It SUBSCRIBEs to
MESOS_AGENT_ENDPOINT's /api/v1/executor (JSON, RecordIO event stream), runs
each LAUNCHed task's command with /bin/sh, sends TASK_RUNNING and then
TASK_FINISHED / TASK_FAILED, keeps every update until the agent's
ACKNOWLEDGED, and exits once every task has ended and been acknowledged, or
on SHUTDOWN. Run inside a VM by `mesos-vm-executor --wrap`, it also writes
py-executor.out in the sandbox: the endpoint it used and the kernel's
boot_id, which tell the test it ran in the guest, not on the host.
"""
import base64
import http.client
import json
import os
import subprocess
import sys
import time
import uuid


def log(msg):
    sys.stderr.write("py-executor: %s\n" % msg)
    sys.stderr.flush()


ENDPOINT = os.environ["MESOS_AGENT_ENDPOINT"]
HOST, _, PORT = ENDPOINT.rpartition(":")
FW = {"value": os.environ["MESOS_FRAMEWORK_ID"]}
EX = {"value": os.environ["MESOS_EXECUTOR_ID"]}
SANDBOX = os.environ.get("MESOS_SANDBOX") or os.environ["MESOS_DIRECTORY"]
TOKEN = os.environ.get("MESOS_EXECUTOR_AUTHENTICATION_TOKEN")

unacked = {}      # uuid (base64) -> state, until ACKNOWLEDGED
running = set()   # task ids not yet ended


def post(call, stream=False):
    """POST one Call; the connection and the response (left open when stream)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if TOKEN:
        headers["Authorization"] = "Bearer " + TOKEN
    conn = http.client.HTTPConnection(HOST, int(PORT), timeout=None if stream else 30)
    conn.request("POST", "/api/v1/executor", json.dumps(call), headers)
    resp = conn.getresponse()
    if not stream:
        resp.read()
        conn.close()
    return conn, resp


def update(task_id, state, message):
    status = {"task_id": task_id, "state": state, "source": "SOURCE_EXECUTOR",
              "uuid": base64.b64encode(uuid.uuid4().bytes).decode(),
              "timestamp": time.time(), "executor_id": EX, "message": message}
    unacked[status["uuid"]] = state
    _, resp = post({"type": "UPDATE", "framework_id": FW, "executor_id": EX,
                    "update": {"status": status}})
    log("%s %s: HTTP %d" % (task_id["value"], state, resp.status))
    if resp.status != 202:
        sys.exit("py-executor: the agent refused %s: HTTP %d" % (state, resp.status))


def launch(task):
    tid = task["task_id"]
    cmd = task.get("command", {})
    running.add(tid["value"])
    update(tid, "TASK_RUNNING", "running in the guest")
    if cmd.get("shell", True):
        argv = ["/bin/sh", "-c", cmd.get("value", "")]
    else:
        argv = [cmd.get("value", "")] + cmd.get("arguments", [])[1:]
    rc = subprocess.call(argv, cwd=SANDBOX)
    running.discard(tid["value"])
    update(tid, "TASK_FINISHED" if rc == 0 else "TASK_FAILED",
           "command exited with status %d" % rc)


def records(resp):
    """RecordIO: 'LENGTH\\n' then LENGTH bytes of JSON, repeated."""
    while True:
        line = resp.readline()
        if not line:
            return
        data = resp.read(int(line))
        yield json.loads(data)


def main():
    with open(os.path.join(SANDBOX, "py-executor.out"), "w") as f:
        with open("/proc/sys/kernel/random/boot_id") as b:
            f.write("endpoint=%s\nboot_id=%s\n" % (ENDPOINT, b.read().strip()))
    conn, resp = post({"type": "SUBSCRIBE", "framework_id": FW, "executor_id": EX,
                       "subscribe": {}}, stream=True)
    if resp.status != 200:
        sys.exit("py-executor: SUBSCRIBE answered HTTP %d" % resp.status)
    launched = False
    for ev in records(resp):
        t = ev.get("type")
        if t == "SUBSCRIBED":
            log("subscribed to %s" % ENDPOINT)
        elif t == "LAUNCH":
            launched = True
            launch(ev["launch"]["task"])
        elif t == "ACKNOWLEDGED":
            unacked.pop(ev["acknowledged"]["uuid"], None)
        elif t == "KILL":
            log("KILL: the task runs to its end (this executor does not kill)")
        elif t == "SHUTDOWN":
            log("SHUTDOWN")
            return 0
        elif t == "ERROR":
            log("agent error: %s" % ev.get("error", {}).get("message"))
        if launched and not running and not unacked:
            log("every update acknowledged: exiting")
            return 0
    log("the event stream ended with %d update(s) unacknowledged" % len(unacked))
    return 0 if not unacked else 1


if __name__ == "__main__":
    sys.exit(main())
