# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""py_demo_server.py GENERATED_DIR NAME: demo.cell served by a Python cell."""
import sys

sys.path.insert(0, sys.argv[1])
import demo_cell  # noqa: E402
from cell.server import Server  # noqa: E402


class Demo(demo_cell.DemoHandler):
    calls = 0

    def echo(self, req):
        self.calls += 1
        return demo_cell.Blob(seq=req.seq, data=req.data)

    def stats(self, req):
        return demo_cell.Count(calls=self.calls, bytes=0)


srv = Server(sys.argv[2], Demo())
print("ready", flush=True)
srv.serve_forever()
