"""``wattlm tasks``: energy of real NLP work per task, with quality, stars and fairness.

Six tasks (text classification, extractive QA, summarisation, translation, dialogue / text
generation, sentence similarity), each one module; shipped task sets (``data/``); tiny local
models when none is given. :func:`run_tasks` measures each (model, task) with
:func:`wattlm.track` and returns :class:`TaskResult` objects (``.to_dict()`` gives the JSON
interface).
"""

from __future__ import annotations

from wattlm.tasks.base import Bundle, Quality, Task
from wattlm.tasks.benchmark import TINY, plan, run_jobs, run_tasks
from wattlm.tasks.measure import TaskResult
from wattlm.tasks.ratings import rate
from wattlm.tasks.registry import TASK_NAMES, all_tasks, get_task

__all__ = ["TASK_NAMES", "TINY", "Bundle", "Quality", "Task", "TaskResult", "all_tasks",
           "get_task", "plan", "rate", "run_jobs", "run_tasks"]
