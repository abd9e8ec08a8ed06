/**
 * The audience API's schedule routes:
 *
 * | method | path | what |
 * | --- | --- | --- |
 * | GET | /v1/schedules | every schedule, with its last and next due times |
 * | POST | /v1/schedules | add a schedule; 201 with it once it is stored |
 * | DELETE | /v1/schedules/NAME | remove a schedule |
 * | POST | /v1/schedules/NAME/run | submit its job now; 201 `{name, id}` |
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { OrchError } from "../errors.ts";
import {
  type Caller,
  decodeScheduleRequest,
  SCHEDULE_NAME,
  SCHEDULE_NAME_DESC,
  type ScheduleRequest,
  type ScheduleRunResponse,
  type ScheduleView,
  scheduleViewJson,
} from "../protocol/mod.ts";
import type { ApiEnv } from "./api.ts";
import type { Guard } from "./guard.ts";

/** What the schedule routes need from the conductor. */
export interface ScheduleBackend {
  add(req: ScheduleRequest, owner: Caller, groups: readonly string[]): Promise<ScheduleView>;
  list(): ScheduleView[];
  remove(name: string): Promise<void>;
  runNow(name: string): Promise<number>;
}

/** What the API's routes share, handed to routes added from other files. */
export interface RouteHelpers {
  json: (status: number, body: unknown) => Response;
  query: (c: Context<ApiEnv>, known: readonly string[]) => Map<string, string>;
  readJson: (req: Request) => Promise<unknown>;
  notAllowed: (methods: string) => (c: Context<ApiEnv>) => Response;
}

/** Adds the schedule routes to `app`. */
export function scheduleRoutes(
  app: Hono<ApiEnv>,
  backend: ScheduleBackend,
  guard: Guard,
  helpers: RouteHelpers,
): void {
  const { json, query, notAllowed } = helpers;
  const nameOf = (c: Context<ApiEnv>): string => {
    const name = c.req.param("name") ?? "";
    if (!SCHEDULE_NAME.test(name)) {
      throw new OrchError("invalid", `${JSON.stringify(name)} is not ${SCHEDULE_NAME_DESC}`);
    }
    return name;
  };
  app.get("/schedules", guard("schedules"), (c) => {
    query(c, []);
    const by = c.get("jobsBy");
    const all = backend.list();
    return json(200, {
      schedules: (by === undefined ? all : all.filter((s) => s.owner_label === by)).map(
        scheduleViewJson,
      ),
    });
  });
  app.post("/schedules", guard("schedule_add"), async (c) => {
    query(c, []);
    const req = c.get("scheduleAdd") ??
      decodeScheduleRequest(await helpers.readJson(c.req.raw));
    const groups = c.get("principal")?.groups ?? [];
    return json(201, scheduleViewJson(await backend.add(req, c.env.caller, groups)));
  });
  app.all("/schedules", notAllowed("GET, POST"));
  app.delete("/schedules/:name", guard("schedule"), async (c) => {
    const name = nameOf(c);
    query(c, []);
    await backend.remove(name);
    return json(200, { name, removed: true });
  });
  app.all("/schedules/:name", notAllowed("DELETE"));
  app.post("/schedules/:name/run", guard("schedule"), async (c) => {
    const name = nameOf(c);
    query(c, []);
    const res: ScheduleRunResponse = { name, id: await backend.runNow(name) };
    return json(201, res);
  });
  app.all("/schedules/:name/run", notAllowed("POST"));
}
