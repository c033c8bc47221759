#!/usr/bin/env python3
"""Fake Mesos agent for testing mesos-vm-executor (Python 3 stdlib only).

Speaks the agent side of the v1 Executor HTTP API as the reference describes
it: POST /api/v1/executor, JSON bodies, SUBSCRIBE answered with 200 and a
chunked RecordIO event stream (records deliberately split across chunks and
packed several to a chunk), every other call answered 202, 415/406/400 for a
wrong Content-Type, Accept or body. It spawns the executor with the
environment an agent gives, plays one scenario and prints a JSON report of
what it saw (updates, SUBSCRIBE calls, protocol violations, exit status).
Assertions live in the test program that reads the report.

Every call is parsed strictly against the vendored apache/mesos schema
(tests/proto: mesos.v1.executor.Call, compiled with protoc at start, parsed
with json_format, unknown fields and missing required fields refused with
400), and every event is checked against mesos.v1.executor.Event before it
goes out. Without protoc or python3-protobuf it exits 77 with a clear line.
"""
import argparse
import base64
import http.server
import json
import os
import queue
import shutil
import tempfile
import random
import socketserver
import subprocess
import sys
import threading
import time
import uuid as uuidlib

STATES = {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FINISHED",
          "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
          "TASK_UNREACHABLE", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
            "TASK_DROPPED", "TASK_GONE"}
DROP = object()   # sentinel: break the stream without the final chunk
END = object()    # sentinel: end the stream properly


PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto")
SKIP = 77


def load_schema():
    """executor_pb2 compiled from the vendored .proto files, and json_format."""
    protoc = shutil.which("protoc")
    try:
        from google.protobuf import json_format
    except ImportError:
        json_format = None
        # python3-protobuf is Debian's: run again under Debian's python3 when
        # the python3 first in PATH (pyenv, a venv) cannot see it.
        deb = "/usr/bin/python3"
        if os.path.realpath(sys.executable) != os.path.realpath(deb) and \
                os.access(deb, os.X_OK) and not os.environ.get("FAKE_AGENT_REEXEC"):
            os.environ["FAKE_AGENT_REEXEC"] = "1"
            os.execv(deb, [deb, os.path.abspath(__file__)] + sys.argv[1:])
    if not protoc or json_format is None:
        sys.stderr.write("fake-mesos-agent: SKIP: needs protoc and python3-protobuf "
                         "(Debian: protobuf-compiler python3-protobuf; scripts/deps)\n")
        sys.exit(SKIP)
    out = tempfile.mkdtemp(prefix="fake-agent-proto-")
    subprocess.run([protoc, "-I" + PROTO_DIR, "--python_out=" + out,
                    os.path.join(PROTO_DIR, "mesos/v1/mesos.proto"),
                    os.path.join(PROTO_DIR, "mesos/v1/executor/executor.proto")], check=True)
    sys.path.insert(0, out)
    from mesos.v1.executor import executor_pb2
    shutil.rmtree(out, ignore_errors=True)
    return executor_pb2, json_format


def schema_check(agent, cls, text):
    """None if text parses as a complete cls (no unknown field, every required
    field set), else why not."""
    try:
        msg = agent.json_format.Parse(text, cls(), ignore_unknown_fields=False)
    except agent.json_format.ParseError as e:
        return str(e)
    missing = msg.FindInitializationErrors()
    if missing:
        return "missing required field(s) %s" % ", ".join(missing)
    return None


def recordio(event):
    data = json.dumps(event).encode()
    return str(len(data)).encode() + b"\n" + data


class Agent:
    def __init__(self, args):
        self.args = args
        self.fw = "fw-" + uuidlib.uuid4().hex[:8]
        self.ex = "vm-executor-" + uuidlib.uuid4().hex[:6]
        self.lock = threading.Condition()
        self.updates = []        # every UPDATE status, in order received
        self.subscribes = []     # summaries of SUBSCRIBE calls
        self.violations = []
        self.seen_uuids = set()
        self.stream = None       # queue of the live stream
        self.down = False        # answer SUBSCRIBE with 503 (agent recovering)
        self.auto_ack = True
        self.launch_at = {}
        self.refuse_left = args.refuse_updates
        self.refused = []        # states of UPDATE calls answered 503
        self.probe = None        # stdout of --probe, run at the first TASK_RUNNING
        self.proc = None         # the executor process
        self.t0 = time.monotonic()
        self.rng = random.Random(args.seed)
        self.pb, self.json_format = load_schema()
        self.calls = []          # type of every call that passed the schema
        self.kill_t = None       # when KILL went out, seconds after LAUNCH
        self.unauthorized = 0    # calls answered 401

    def now(self):
        return time.monotonic() - self.t0

    def violation(self, msg):
        with self.lock:
            self.violations.append(msg)
            self.lock.notify_all()

    def send(self, event):
        with self.lock:
            q = self.stream
        if q is None:
            return False
        if isinstance(event, dict):
            # The fake itself must speak the schema (garbage is sent as bytes).
            err = schema_check(self, self.pb.Event, json.dumps(event))
            if err:
                self.violation("fake agent event %s not schema-valid: %s" %
                               (event.get("type"), err))
        q.put(event)
        return True

    def ack(self, status):
        self.send({"type": "ACKNOWLEDGED", "acknowledged": {
            "task_id": status["task_id"], "uuid": status["uuid"]}})

    def wait(self, pred, timeout):
        """Until pred() holds, timeout passes or the executor has exited."""
        end = time.monotonic() + timeout
        with self.lock:
            while not pred():
                left = end - time.monotonic()
                if left <= 0 or (self.proc is not None and self.proc.poll() is not None):
                    return pred()
                self.lock.wait(min(left, 0.5))
            return True

    def framework_info(self):
        fi = {"id": {"value": self.fw}, "user": "root", "name": "fake",
              "checkpoint": self.args.checkpoint}
        if self.args.capability:
            fi["capabilities"] = [{"type": c} for c in self.args.capability]
        return fi

    def states(self, task_id):
        return [u["state"] for u in self.updates if u["task_id"]["value"] == task_id]

    def check_status(self, st, where):
        """The checks the real agent makes on a TaskStatus; returns an error or None."""
        if not isinstance(st, dict):
            return where + ": status is not an object"
        tid = st.get("task_id", {}).get("value") if isinstance(st.get("task_id"), dict) else None
        if not tid:
            return where + ": status without task_id.value"
        if st.get("state") not in STATES:
            return where + ": bad state %r" % st.get("state")
        if st.get("source") != "SOURCE_EXECUTOR":
            return where + ": source %r, want SOURCE_EXECUTOR" % st.get("source")
        if st.get("executor_id", {}).get("value") != self.ex:
            return where + ": executor_id %r" % st.get("executor_id")
        try:
            raw = base64.b64decode(st.get("uuid", ""), validate=True)
        except Exception:
            return where + ": uuid is not base64"
        if len(raw) != 16:
            return where + ": uuid decodes to %d bytes, want 16" % len(raw)
        if not isinstance(st.get("timestamp"), (int, float)):
            return where + ": no numeric timestamp"
        return None


def make_handler(agent):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            if agent.args.verbose:
                sys.stderr.write("fake-agent: " + (fmt % a) + "\n")

        def reply(self, code, text=""):
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            if body:
                self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.reply(405 if self.path == "/api/v1/executor" else 404, "use POST")

        def do_POST(self):
            if self.path != "/api/v1/executor":
                agent.violation("POST to %s" % self.path)
                return self.reply(404, "no such endpoint")
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            ct = self.headers.get("Content-Type", "")
            if ct.split(";")[0].strip() != "application/json":
                agent.violation("Content-Type %r" % ct)
                return self.reply(415, "Expecting 'Content-Type' of application/json")
            acc = self.headers.get("Accept", "")
            if acc not in ("application/json", "*/*"):
                agent.violation("Accept %r" % acc)
                return self.reply(406, "Expecting 'Accept' of application/json")
            if agent.args.token is not None and \
                    self.headers.get("Authorization", "") != "Bearer " + agent.args.token:
                # What an agent with --authenticate_http_executors answers.
                with agent.lock:
                    agent.unauthorized += 1
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Bearer realm="mesos-agent-executor"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            try:
                call = json.loads(body)
            except ValueError as e:
                agent.violation("body is not JSON: %s" % e)
                return self.reply(400, "Failed to parse body into JSON: %s" % e)
            if not isinstance(call, dict):
                agent.violation("body is not an object")
                return self.reply(400, "Expecting a JSON object")
            err = schema_check(agent, agent.pb.Call, body.decode("utf-8", "replace"))
            if err:
                agent.violation("%s call not schema-valid: %s" % (call.get("type"), err))
                return self.reply(400, "Failed to convert JSON into Call protobuf: " + err)
            with agent.lock:
                agent.calls.append(call.get("type"))
            if call.get("framework_id") != {"value": agent.fw} or \
                    call.get("executor_id") != {"value": agent.ex}:
                agent.violation("%s with ids %r %r" % (call.get("type"),
                                call.get("framework_id"), call.get("executor_id")))
                return self.reply(400, "Call has wrong framework_id/executor_id")
            t = call.get("type")
            if t == "SUBSCRIBE":
                return self.subscribe(call)
            if t == "UPDATE":
                return self.update(call)
            if t == "MESSAGE":
                if "message" not in call:
                    agent.violation("MESSAGE without message")
                    return self.reply(400, "Expecting 'message' to be present")
                return self.reply(202)
            agent.violation("unknown call %r" % t)
            return self.reply(400, "Unknown call type")

        def update(self, call):
            st = (call.get("update") or {}).get("status")
            err = agent.check_status(st, "UPDATE")
            if not err and st["uuid"] in agent.seen_uuids:
                err = "UPDATE reuses uuid %s" % st["uuid"]
            if err:
                agent.violation(err)
                return self.reply(400, err)
            with agent.lock:
                refuse = agent.refuse_left > 0
                if refuse:
                    agent.refuse_left -= 1
                    agent.refused.append(st["state"])
            if refuse:
                # What the agent answers every call while it recovers.
                return self.reply(503, "Agent has not finished recovery")
            if agent.args.probe and st["state"] == "TASK_RUNNING" and agent.probe is None:
                # Before the 202: the task's VM is certainly still there.
                try:
                    agent.probe = subprocess.run(json.loads(agent.args.probe),
                                                 capture_output=True, timeout=60,
                                                 text=True).stdout
                except (OSError, ValueError, subprocess.TimeoutExpired) as e:
                    agent.probe = ""
                    agent.violation("probe failed: %s" % e)
            self.reply(202)
            with agent.lock:
                tid = st["task_id"]["value"]
                prev = agent.states(tid)
                if prev and prev[-1] in TERMINAL:
                    agent.violations.append("update %s after terminal %s" % (st["state"], prev[-1]))
                agent.seen_uuids.add(st["uuid"])
                st["_t"] = agent.now() - agent.launch_at.get(tid, agent.now())
                st["_wall"] = time.time()
                agent.updates.append(st)
                agent.lock.notify_all()
                ack = agent.auto_ack
            if ack:
                agent.ack(st)

        def subscribe(self, call):
            sub = call.get("subscribe") or {}
            ups = sub.get("unacknowledged_updates") or []
            tasks = sub.get("unacknowledged_tasks") or []
            summary = {"t": agent.now(), "updates": [], "tasks": []}
            for u in ups:
                err = agent.check_status(u.get("status"), "SUBSCRIBE.unacknowledged_updates")
                if err:
                    agent.violation(err)
                    return self.reply(400, err)
                summary["updates"].append({"task_id": u["status"]["task_id"]["value"],
                                           "state": u["status"]["state"],
                                           "uuid": u["status"]["uuid"]})
            for ti in tasks:
                summary["tasks"].append((ti.get("task_id") or {}).get("value"))
            with agent.lock:
                agent.subscribes.append(summary)
                agent.lock.notify_all()
                if agent.down:
                    self.reply(503, "Agent has not finished recovery")
                    return
                q = queue.Queue()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Mesos-Stream-Id", str(uuidlib.uuid4()))
            self.end_headers()
            q.put({"type": "SUBSCRIBED", "subscribed": {
                "executor_info": {"executor_id": {"value": agent.ex},
                                  "framework_id": {"value": agent.fw},
                                  "type": "CUSTOM",
                                  "command": {"value": agent.args.executor}},
                "framework_info": agent.framework_info(),
                "agent_info": {"id": {"value": "agent-1"}, "hostname": "127.0.0.1"},
                "container_id": {"value": str(uuidlib.uuid4())}}})
            # Published only now, so nothing the scenario sends can go
            # before SUBSCRIBED.
            with agent.lock:
                agent.stream = q
                agent.lock.notify_all()
            self.pump(q)

        def chunk(self, data):
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
            self.wfile.flush()

        def pump(self, q):
            """Write events, framing split at random chunk boundaries."""
            pending = b""
            try:
                while True:
                    try:
                        ev = q.get(timeout=0.05 if pending else 30)
                    except queue.Empty:
                        if pending:
                            self.chunk(pending)
                            pending = b""
                        else:
                            self.chunk(recordio({"type": "HEARTBEAT"}))
                        continue
                    if ev is DROP:
                        if pending:
                            self.chunk(pending[:max(1, len(pending) // 2)])
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if ev is END:
                        if pending:
                            self.chunk(pending)
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    data = ev if isinstance(ev, bytes) else recordio(ev)
                    pending += data
                    # Split: send a random prefix now, keep the rest to pack
                    # together with whatever comes next.
                    cut = agent.rng.randint(1, len(pending))
                    self.chunk(pending[:cut])
                    pending = pending[cut:]
            except (BrokenPipeError, ConnectionResetError, OSError):
                self.close_connection = True
            finally:
                with agent.lock:
                    if agent.stream is q:
                        agent.stream = None
                    agent.lock.notify_all()

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def task_info(args, task_id, command):
    if args.task:
        ti = json.loads(args.task)
        ti.setdefault("agent_id", {"value": "agent-1"})
        ti.setdefault("name", "t")
        return ti
    ti = {"name": "t", "task_id": {"value": task_id}, "agent_id": {"value": "agent-1"},
          "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": args.cpus}},
                        {"name": "mem", "type": "SCALAR", "scalar": {"value": args.mem}}],
          "command": {"shell": True, "value": command}}
    ti.update(json.loads(args.task_extra))
    return ti


def launch(agent, ti):
    tid = ti.get("task_id", {}).get("value", "")
    with agent.lock:
        agent.launch_at[tid] = agent.now()
    agent.send({"type": "LAUNCH", "launch": {"task": ti}})
    return tid


def terminal(agent, tid):
    return lambda: any(s in TERMINAL for s in agent.states(tid))


def scenario(agent, args):
    T = args.timeout
    if not agent.wait(lambda: agent.stream is not None, args.subscribe_timeout):
        return agent.violation("executor did not SUBSCRIBE within %d s" %
                               args.subscribe_timeout)
    name = args.scenario
    tid = args.task_id
    if name == "idle":
        agent.send({"type": "HEARTBEAT"})
        agent.send({"type": "MESSAGE", "message": {"data": base64.b64encode(b"hi").decode()}})
    elif name in ("finish", "error"):
        tid = launch(agent, task_info(args, tid, args.command))
        if not agent.wait(terminal(agent, tid), T):
            agent.violation("no terminal update for %s within %d s" % (tid, T))
    elif name in ("kill", "shutdown"):
        tid = launch(agent, task_info(args, tid, args.command))
        if not agent.wait(lambda: "TASK_RUNNING" in agent.states(tid) or
                          terminal(agent, tid)(), T):
            return agent.violation("task %s not RUNNING within %d s" % (tid, T))
        if name == "kill":
            time.sleep(args.kill_after_s)
            agent.kill_t = agent.now() - agent.launch_at.get(tid, agent.now())
            agent.send({"type": "KILL", "kill": {"task_id": {"value": tid}, "kill_policy": {
                "grace_period": {"nanoseconds": int(args.kill_grace_s * 1e9)}}}})
            if not agent.wait(terminal(agent, tid), T):
                agent.violation("no terminal update after KILL within %d s" % T)
    elif name == "group":
        # LAUNCH_GROUP of g1 (--command) and g2 (--command2); once g1 has
        # ended on its own, g2 is killed. --group-kill: KILL that task once
        # both run; then both must end.
        tis = [task_info(args, "g1", args.command), task_info(args, "g2", args.command2)]
        with agent.lock:
            for ti in tis:
                agent.launch_at[ti["task_id"]["value"]] = agent.now()
        agent.send({"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": tis}}})
        if args.group_kill:
            if not agent.wait(lambda: all("TASK_RUNNING" in agent.states(g)
                                          for g in ("g1", "g2")), T):
                return agent.violation("the group did not run within %d s" % T)
            agent.kill_t = agent.now() - agent.launch_at[args.group_kill]
            agent.send({"type": "KILL", "kill": {"task_id": {"value": args.group_kill}}})
        if not agent.wait(terminal(agent, "g1"), T):
            return agent.violation("g1 did not end within %d s" % T)
        if not (args.group_no_kill or args.group_kill) and not terminal(agent, "g2")():
            agent.kill_t = agent.now() - agent.launch_at["g2"]
            agent.send({"type": "KILL", "kill": {"task_id": {"value": "g2"}}})
        if not agent.wait(terminal(agent, "g2"), T):
            agent.violation("no terminal update for g2 within %d s" % T)
    elif name == "reconnect":
        # Updates stay unacknowledged until the stream breaks after RUNNING
        # (or the first update, for a task that cannot run).
        agent.auto_ack = False
        tid = launch(agent, task_info(args, tid, args.command))
        first = args.reconnect_after
        if not agent.wait(lambda: first in agent.states(tid) or terminal(agent, tid)(), T):
            return agent.violation("task %s never reached %s" % (tid, first))
        with agent.lock:
            agent.down = True
            nsubs = len(agent.subscribes)
        agent.send(DROP)
        # Refused attempts while "recovering", then back.
        agent.wait(lambda: len(agent.subscribes) > nsubs, 30)
        time.sleep(args.down_s)
        with agent.lock:
            agent.down = False
            agent.auto_ack = True
        if not agent.wait(lambda: agent.stream is not None, 60):
            return agent.violation("executor did not resubscribe within 60 s")
        # The resent updates are acknowledged as the real agent does once it
        # has forwarded them.
        with agent.lock:
            resent = list(agent.subscribes[-1]["updates"])
        for u in resent:
            agent.ack({"task_id": {"value": u["task_id"]}, "uuid": u["uuid"]})
        if not agent.wait(terminal(agent, tid), T):
            agent.violation("no terminal update after reconnect within %d s" % T)
    elif name == "garbage":
        agent.send(args.garbage.encode().decode("unicode_escape").encode("latin-1"))
        # The executor must notice (log a protocol error); it resubscribes
        # (checkpoint) or exits; either way it must not crash.
        with agent.lock:
            n, old = len(agent.subscribes), agent.stream
        agent.wait(lambda: len(agent.subscribes) > n, 10)
        if args.checkpoint:
            agent.wait(lambda: agent.stream not in (None, old), 30)
        if args.garbage_then_launch:
            tid = launch(agent, task_info(args, tid, args.command))
            agent.wait(terminal(agent, tid), T)
    else:
        return agent.violation("unknown scenario %s" % name)
    if name != "drop-only":
        agent.send({"type": "SHUTDOWN"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--executor", required=True)
    ap.add_argument("--executor-args", default="[]",
                    help="JSON list of arguments for the executor (e.g. --wrap ... -- CMD)")
    ap.add_argument("--subscribe-timeout", type=int, default=30,
                    help="seconds the executor has to SUBSCRIBE (a VM boot under --wrap)")
    ap.add_argument("--sandbox", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--task-id", default="t1")
    ap.add_argument("--command", default="true")
    ap.add_argument("--task", help="full TaskInfo JSON")
    ap.add_argument("--command2", default="true", help="scenario group: g2's command")
    ap.add_argument("--task-extra", default="{}",
                    help="JSON object of TaskInfo fields added to each task made from --command")
    ap.add_argument("--group-no-kill", action="store_true",
                    help="scenario group: no KILL for g2, it must end by itself")
    ap.add_argument("--group-kill", choices=("g1", "g2"),
                    help="scenario group: KILL this task once both run")
    ap.add_argument("--cpus", type=float, default=1)
    ap.add_argument("--mem", type=float, default=128)
    ap.add_argument("--checkpoint", action="store_true")
    ap.add_argument("--grace", default="10secs")
    ap.add_argument("--timeout", type=int, default=240)
    ap.add_argument("--reconnect-after", default="TASK_RUNNING")
    ap.add_argument("--down-s", type=float, default=1.0)
    ap.add_argument("--garbage", default="12\\nthis is not json at all\\n")
    ap.add_argument("--garbage-then-launch", action="store_true")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--capability", action="append", default=[],
                    help="FrameworkInfo capability type, e.g. TASK_KILLING_STATE")
    ap.add_argument("--refuse-updates", type=int, default=0,
                    help="answer the first N UPDATE calls 503 (agent recovering)")
    ap.add_argument("--probe", help="JSON argv run on the host at the first TASK_RUNNING")
    ap.add_argument("--kill-grace-s", type=float, default=3.0,
                    help="KILL's kill_policy.grace_period")
    ap.add_argument("--kill-after-s", type=float, default=0.0,
                    help="wait this long after TASK_RUNNING before KILL")
    ap.add_argument("--token", help="require Authorization: Bearer TOKEN (401 without)")
    ap.add_argument("--listen", default="127.0.0.1",
                    help="address to listen on; MESOS_AGENT_ENDPOINT names it, 127.0.0.1 for "
                         "0.0.0.0 (an agent on every address whose hostname is loopback)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    agent = Agent(args)
    srv = Server((args.listen, 0), make_handler(agent))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    advertised = "127.0.0.1" if args.listen == "0.0.0.0" else args.listen

    env = dict(os.environ)
    env.update({
        "MESOS_AGENT_ENDPOINT": "%s:%d" % (advertised, port),
        "MESOS_FRAMEWORK_ID": agent.fw, "MESOS_EXECUTOR_ID": agent.ex,
        "MESOS_DIRECTORY": args.sandbox, "MESOS_SANDBOX": args.sandbox,
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": args.grace,
        "MESOS_SLAVE_PID": "slave(1)@%s:%d" % (advertised, port),
    })
    if args.checkpoint:
        env.update({"MESOS_CHECKPOINT": "1", "MESOS_RECOVERY_TIMEOUT": "2mins",
                    "MESOS_SUBSCRIPTION_BACKOFF_MAX": "1secs"})
    else:
        env["MESOS_CHECKPOINT"] = "0"
    for kv in args.env:
        k, _, v = kv.partition("=")
        env[k] = v
    out = open(os.path.join(args.sandbox, "stdout"), "ab")
    err = open(os.path.join(args.sandbox, "stderr"), "ab")
    proc = subprocess.Popen([args.executor] + json.loads(args.executor_args), env=env, stdout=out, stderr=err,
                            cwd=args.sandbox, start_new_session=True)
    agent.proc = proc
    exit_code = None
    t_shutdown = t_exit = None
    try:
        scenario(agent, args)
        t_shutdown = agent.now()
        grace = 60 if args.scenario in ("garbage",) else args.timeout
        try:
            exit_code = proc.wait(timeout=grace)
            t_exit = agent.now()
        except subprocess.TimeoutExpired:
            agent.violation("executor still running %d s after SHUTDOWN" % grace)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        srv.shutdown()
    with agent.lock:
        report = {
            "framework_id": agent.fw, "executor_id": agent.ex,
            "updates": [{"task_id": u["task_id"]["value"], "state": u["state"],
                         "message": u.get("message"), "uuid": u["uuid"], "t": u["_t"],
                         "wall": u["_wall"],
                         "labels": u.get("labels"),
                         "healthy": u.get("healthy"), "reason": u.get("reason"),
                         "check_status": u.get("check_status"),
                         "container_status": u.get("container_status")}
                        for u in agent.updates],
            "subscribes": agent.subscribes, "violations": agent.violations,
            "calls": agent.calls, "unauthorized": agent.unauthorized,
            "kill_t": agent.kill_t,
            "refused_updates": agent.refused, "probe": agent.probe,
            "exit_code": exit_code if exit_code is not None else proc.returncode,
            "exit_after_shutdown_s": (t_exit - t_shutdown) if t_exit is not None else None,
        }
    json.dump(report, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
