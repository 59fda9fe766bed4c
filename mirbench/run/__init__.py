"""Running a suite: planning its trials (plan), one trial to its record (trial), what makes a stored trial the
same one (identity), and the executors side by side (executors: in this process or a process pool; cluster: Dask).
"""

from mirbench.run.plan import RunOptions
from mirbench.run.runner import RunSummary, run_suite

__all__ = ["RunOptions", "RunSummary", "run_suite"]
