"""A private single-node SLURM cluster for the tests (not a test file itself): Debian's munged,
slurmctld and slurmd started by hand with their own key, configuration, ports and state under
a temporary directory, and stopped with everything they started.

It needs root (slurmd runs jobs as their user, munged and the daemons as root here) and the
packages munge, slurmctld, slurmd and slurm-client, which scripts/setup.sh installs.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "squeue", "scancel")

# How long a requeued job waits before it may start again (SLURM's default is 120 s).
CRED_EXPIRE = 20


def unavailable_reason():
    """Why a private cluster cannot be started here, or None."""
    if os.geteuid() != 0:
        return "a private SLURM cluster needs root (slurmd runs jobs as their user)"
    missing = [d for d in DAEMONS if not shutil.which(d, path=os.environ["PATH"] + ":/usr/sbin")]
    if missing:
        return ("not installed: " + ", ".join(missing) +
                " (scripts/setup.sh installs munge, slurmctld, slurmd and slurm-client)")
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sbin(name):
    return shutil.which(name, path=os.environ["PATH"] + ":/usr/sbin")


class PrivateSlurmCluster:
    """`with PrivateSlurmCluster(cpus) as cluster:` starts the daemons; `cluster.env` is the
    environment for sbatch, scontrol and squeue (SLURM_CONF names the private configuration);
    leaving the block cancels every job and stops the daemons."""

    def __init__(self, cpus):
        self.cpus = cpus
        self.dir = Path(tempfile.mkdtemp(prefix="cdl-slurm-"))
        self.env = None
        self.processes = []

    # --------------------------------------------------------------------------- life cycle

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _start(self):
        d = self.dir
        os.chmod(d, 0o700)  # munged refuses a key or socket in a directory others can write
        for sub in ("munge", "state", "spool", "log"):
            (d / sub).mkdir()
        key = d / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.munge_socket = d / "munge" / "munge.socket"
        subprocess.run([sbin("munged"), "--force", f"--key-file={key}",
                        f"--socket={self.munge_socket}", f"--pid-file={d}/munge/munged.pid",
                        f"--log-file={d}/munge/munged.log", f"--seed-file={d}/munge/munged.seed"],
                       check=True, capture_output=True)
        host = socket.gethostname().split(".")[0]
        conf = d / "slurm.conf"
        conf.write_text(f"""\
ClusterName=cdltest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket},cred_expire={CRED_EXPIRE}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
NodeName={host} NodeAddr=127.0.0.1 CPUs={self.cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
        # The environment of every client and of the jobs (sbatch exports it): no SLURM_ from
        # an enclosing job, the private configuration.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        self.env["SLURM_CONF"] = str(conf)
        subprocess.run([sbin("slurmctld"), "-i"], env=self.env, check=True, capture_output=True)
        subprocess.run([sbin("slurmd")], env=self.env, check=True, capture_output=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            state = self.run("sinfo", "-h", "-o", "%T", check=False).stdout.strip()
            if state in ("idle", "mixed", "allocated"):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the private SLURM node did not come up (state '{state}'); logs in "
                           f"{d}/log:\n" + self.logs())

    def logs(self):
        return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:]
                         for p in sorted((self.dir / "log").glob("*.log")))

    def stop(self):
        if self.env is not None:
            self.run("scancel", "--full", "--quiet", "-u", "root", check=False)
            deadline = time.time() + 40
            while time.time() < deadline and self.run("squeue", "-h", check=False).stdout.strip():
                time.sleep(0.5)
        for pid_file in ("slurmd.pid", "slurmctld.pid", "munge/munged.pid"):
            path = self.dir / pid_file
            try:
                pid = int(path.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.1)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    # --------------------------------------------------------------------------- using it

    def run(self, *command, cwd=None, check=True):
        result = subprocess.run(list(command), cwd=cwd, env=self.env, capture_output=True,
                                text=True, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: "
                               f"{result.stderr.strip()}")
        return result

    def jobs(self, job_id):
        """Every record of a job (one per array task) as a dict of scontrol's fields."""
        result = self.run("scontrol", "show", "job", "--oneliner", str(job_id), check=False)
        records = []
        for line in result.stdout.splitlines():
            fields = {}
            for word in line.split():
                name, _, value = word.partition("=")
                fields[name] = value
            if fields:
                records.append(fields)
        return records

    def wait_until_ended(self, job_id, timeout):
        """Waits until every task of `job_id` has ended; returns their records."""
        deadline = time.time() + timeout
        while True:
            records = self.jobs(job_id)
            ended = records and all(r.get("JobState") not in
                                    ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING",
                                     "REQUEUED", "SUSPENDED", "RESIZING", "REQUEUE_HOLD",
                                     "REQUEUE_FED")
                                    for r in records)
            if ended:
                return records
            if time.time() > deadline:
                raise AssertionError(f"job {job_id} did not end within {timeout} s: " +
                                     "; ".join(f"{r.get('JobId')} {r.get('JobState')} "
                                               f"{r.get('Reason')}" for r in records))
            time.sleep(1)
