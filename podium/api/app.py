"""Builds the aiohttp application: the route table, the middlewares and the shared objects."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from aiohttp import web

from podium.api import (
    audit,
    commands,
    diff,
    docs,
    environment_jobs,
    events,
    inventory,
    jobs,
    plan_jobs,
    plans,
    rerun,
    scheduled_jobs,
    status,
    task_targets,
    tasks,
    usage,
)
from podium.api.admin import ADMIN_ROUTES
from podium.api.environments import get_environment, list_environments
from podium.api.firings import Firings
from podium.api.keys import (
    CLOCK,
    ENVIRONMENTS,
    EVENT_LOG,
    INVENTORY,
    JOBS,
    LOCAL_QUERIES,
    PLANS,
    PRODUCER,
    PROJECTOR,
    PUPPETDB,
    REQUEST_IDS,
    SETTINGS,
    UNFOLDED,
    request_ids,
)
from podium.api.metrics import REQUESTS, count_requests, metrics
from podium.api.middleware import authenticate, errors, read_body_in_time
from podium.api.operations import OPERATIONS
from podium.api.puppetdb import PuppetDb
from podium.api.scopes import LocalQueries
from podium.api.settings import ApiSettings
from podium.api.sources import InventoryHolder
from podium.api.submit import Unfolded
from podium.api.webview import WEB_ROUTES
from podium.environments import Environments
from podium.events.ports import EventLog
from podium.events.producer import Producer
from podium.events.projector import Projector
from podium.health import HEALTH, STATUS_ROUTES, Health, orchestrator_status, projector_health
from podium.history.archive import Archive
from podium.history.reads import JobReader, PlanReader

V1 = "/orchestrator/v1"
ROUTES = [
    *STATUS_ROUTES,
    web.get(V1, status.root),
    web.get(f"{V1}/openapi.json", docs.openapi_json),
    web.get(f"{V1}/docs", docs.docs_page),
    web.get(f"{V1}/status", orchestrator_status),
    web.get(f"{V1}/environments", list_environments),
    web.get(f"{V1}/environments/{{name}}", get_environment),
    web.post(f"{V1}/command/deploy", commands.deploy),
    web.post(f"{V1}/command/task", commands.task),
    web.post(f"{V1}/command/stop", commands.stop),
    web.post(f"{V1}/command/plan_run", plans.plan_run),
    web.post(f"{V1}/command/environment_plan_run", plans.environment_plan_run),
    web.post(f"{V1}/command/stop_plan", plans.stop_plan),
    web.post(f"{V1}/command/plan_resume", plans.plan_resume),
    web.post(f"{V1}/command/plan_start", plans.plan_start),
    web.post(f"{V1}/command/plan_task", commands.task),
    web.post(f"{V1}/command/plan_finish", plans.plan_finish),
    web.get(f"{V1}/plans", plan_jobs.list_plans),
    web.get(f"{V1}/plans/{{module}}/{{plan}}", plan_jobs.get_plan),
    web.get(f"{V1}/plan_jobs", plan_jobs.list_plan_jobs),
    web.get(f"{V1}/plan_jobs/{{id}}", plan_jobs.get_plan_job),
    web.get(f"{V1}/plan_jobs/{{id}}/events", plan_jobs.plan_job_events),
    web.get(f"{V1}/plan_jobs/{{id}}/event/{{event}}", plan_jobs.plan_job_event),
    web.post(f"{V1}/command/rerun", rerun.rerun),
    web.post(f"{V1}/command/task_target", task_targets.create_task_target),
    web.post(f"{V1}/command/schedule_task", scheduled_jobs.schedule_task),
    web.get(f"{V1}/scheduled_jobs", scheduled_jobs.list_scheduled_jobs),
    web.get(f"{V1}/scheduled_jobs/environment_jobs", environment_jobs.list_environment_jobs),
    web.post(f"{V1}/scheduled_jobs/environment_jobs", environment_jobs.create_environment_job),
    web.get(f"{V1}/scheduled_jobs/environment_jobs/{{id}}", environment_jobs.get_environment_job),
    web.put(
        f"{V1}/scheduled_jobs/environment_jobs/{{id}}", environment_jobs.update_environment_job
    ),
    web.delete(f"{V1}/scheduled_jobs/{{id}}", scheduled_jobs.delete_scheduled_job),
    web.get(f"{V1}/scopes/task_targets", task_targets.list_task_targets),
    web.get(f"{V1}/scopes/task_targets/{{id}}", task_targets.get_task_target),
    web.get(f"{V1}/jobs", jobs.list_jobs),
    web.get(f"{V1}/jobs/{{id}}", jobs.get_job),
    web.get(f"{V1}/jobs/{{id}}/nodes", jobs.job_nodes),
    web.get(f"{V1}/jobs/{{id}}/report", jobs.job_report),
    web.get(f"{V1}/jobs/{{id}}/events", jobs.job_events),
    web.get(f"{V1}/jobs/{{a}}/diff/{{b}}", diff.diff_jobs),
    web.get(f"{V1}/events", events.all_events),
    web.get(f"{V1}/usage", usage.usage),
    web.get(f"{V1}/audit", audit.audit),
    web.get("/metrics", metrics),
    web.get(f"{V1}/tasks", tasks.list_tasks),
    web.get(f"{V1}/tasks/{{module}}/{{task}}", tasks.get_task),
    web.get(f"{V1}/inventory", inventory.list_inventory),
    web.post(f"{V1}/inventory", inventory.query_inventory),
    web.post(f"{V1}/inventory/reload", inventory.reload_inventory),
    web.get(f"{V1}/inventory/{{node:.+}}", inventory.get_node),
    web.get(f"{V1}/node_groups", inventory.list_node_groups),
    *ADMIN_ROUTES,
    *WEB_ROUTES,
]


def build_app(
    projector: Projector,
    producer: Producer,
    event_log: EventLog,
    environments: Environments,
    sources: InventoryHolder,
    settings: ApiSettings,
    clock: Callable[[], float] = time.time,
    puppetdb: PuppetDb | None = None,
    health: Callable[[], Health] | None = None,
    archive: Archive | None = None,
) -> web.Application:
    """`archive`: where the projector puts ended jobs (None: they stay in its state)."""
    app = web.Application(
        middlewares=[count_requests, errors, read_body_in_time, authenticate],
        client_max_size=settings.max_body_bytes,
    )
    app[REQUESTS] = Counter()
    app[PROJECTOR] = projector
    app[JOBS] = JobReader(projector, archive)
    app[PLANS] = PlanReader(projector, archive)
    app[PRODUCER] = producer
    app[UNFOLDED] = unfolded = Unfolded(projector, producer, clock)
    app.cleanup_ctx.append(unfolded.context)
    app[EVENT_LOG] = event_log
    app[ENVIRONMENTS] = environments
    app[INVENTORY] = sources
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[REQUEST_IDS] = request_ids()
    app[PUPPETDB] = puppetdb
    app[LOCAL_QUERIES] = queries = LocalQueries()
    app.cleanup_ctx.append(queries.context)
    app.cleanup_ctx.append(Firings(app).context)  # the jobs of fired schedules
    app[HEALTH] = health or (lambda: projector_health(projector))
    app[docs.DESCRIBED] = docs.Described(OPERATIONS)
    if puppetdb is not None:
        app.cleanup_ctx.append(puppetdb.session_context)
    app.add_routes(ROUTES)
    return app
