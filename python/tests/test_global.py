"""The global SDK (init/commit/flush/close), each case in a fresh interpreter."""

from __future__ import annotations

import textwrap

import modsynclog
from conftest import Server, run_python


def read_all(data_dir: object) -> list[modsynclog.Record]:
    return list(modsynclog.Reader(str(data_dir)))


def test_global_lifecycle(server: Server) -> None:
    code = textwrap.dedent(
        """
        import os, modsynclog as m
        addr = os.environ["ADDR"]
        try:
            m.commit(1, b"x")
        except m.NotInitializedError as e:
            assert e.code == 7, e.code
        else:
            raise SystemExit("commit before init must fail")
        try:
            m.flush()
        except m.NotInitializedError:
            pass
        else:
            raise SystemExit("flush before init must fail")
        m.init(addr)
        m.init(addr)  # same address: no-op
        try:
            m.init("127.0.0.1:1")
        except m.AlreadyInitializedError as e:
            assert e.code == 8
        else:
            raise SystemExit("init with another address must fail")
        for i in range(100):
            m.commit(1001 + i % 3, b"global-%d" % i)
        m.commit(m.TYPE_JSON_LOG, '{"k": "é"}')
        m.flush(timeout=30)
        m.close()
        try:
            m.commit(1, b"late")
        except m.ClosedError:
            pass
        else:
            raise SystemExit("commit after close must fail")
        print("ok")
        """
    )
    r = run_python(code, ADDR=server.addr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok"
    server.stop()
    records = read_all(server.data_dir)
    assert [rec.data for rec in records] == [b"global-%d" % i for i in range(100)] + ['{"k": "é"}'.encode()]
    assert [rec.type for rec in records[:100]] == [1001 + i % 3 for i in range(100)]
    assert records[-1].type == modsynclog.TYPE_JSON_LOG


def test_fork_child_uses_global_sdk(server: Server) -> None:
    """After os.fork() the child commits and flushes on the global SDK; the parent goes on."""
    code = textwrap.dedent(
        """
        import os, sys, time, modsynclog as m
        m.init(os.environ["ADDR"])
        for i in range(50):
            m.commit(1, b"parent-before-%d" % i)
        m.flush(timeout=30)
        m.commit(1, b"parent-unflushed")  # may still be queued in the parent at fork time
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                m.init(os.environ["ADDR"])  # same address: fine in the child too
                for i in range(20):
                    m.commit(2, b"child-%d" % i)
                m.flush(timeout=20)
                m.close()
                code = 0
            except BaseException as e:
                print("child failed:", repr(e), file=sys.stderr, flush=True)
            os._exit(code)
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise SystemExit("the child hung")
            time.sleep(0.02)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        for i in range(30):
            m.commit(1, b"parent-after-%d" % i)
        m.flush(timeout=30)
        m.close()
        print("ok")
        """
    )
    r = run_python(code, timeout=90, ADDR=server.addr)
    assert r.returncode == 0, r.stdout + r.stderr
    server.stop()
    datas = [rec.data for rec in read_all(server.data_dir)]
    assert sorted(d for d in datas if d.startswith(b"child-")) == sorted(b"child-%d" % i for i in range(20))
    assert [d for d in datas if d.startswith(b"parent-after-")] == [b"parent-after-%d" % i for i in range(30)]
    assert datas.count(b"parent-unflushed") == 1
    assert len(datas) == 50 + 1 + 20 + 30


def test_fork_of_a_producer_object_is_refused_in_the_child(server: Server) -> None:
    code = textwrap.dedent(
        """
        import os, modsynclog as m
        p = m.Producer(os.environ["ADDR"])
        p.commit(1, b"a")
        p.flush(timeout=30)
        pid = os.fork()
        if pid == 0:
            try:
                p.commit(1, b"b")
            except m.ClosedError:
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0, status
        p.commit(1, b"c")
        p.close()
        print("ok")
        """
    )
    r = run_python(code, ADDR=server.addr)
    assert r.returncode == 0, r.stdout + r.stderr
