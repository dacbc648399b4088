/**
 * `GET /channels/:channel/presence`: who is in a presence channel (`--presence`), for any client that may
 * subscribe to it. The same answer as the envelope command `{"type":"presence","channel"}`.
 * @module
 */
import type { Hono } from "hono";
import { apiError } from "../protocol/mod.ts";
import { isValidChannelName } from "../pubsub/mod.ts";
import type { Relay } from "../relay/mod.ts";
import type { RelayEnv } from "./app.ts";
import { admitClient } from "./hook_access.ts";
import { type AccessOptions, badChannel, forbidden, verifyOrOpen } from "./request_access.ts";

/** What the presence route needs. */
export interface PresenceRouteOptions extends AccessOptions {
  relay: Relay;
}

/** Adds `GET /channels/:channel/presence` (after the channel routes: their CORS middleware covers it). */
export function addPresenceRoutes(app: Hono<RelayEnv>, options: PresenceRouteOptions): void {
  const { relay } = options;
  app.get("/channels/:channel/presence", async (c) => {
    const channel = c.req.param("channel");
    if (!isValidChannelName(channel)) return badChannel();
    const permissions = await verifyOrOpen(c, options);
    if (permissions instanceof Response) return permissions;
    if (!permissions.canSubscribe(channel)) return forbidden("subscribe to", channel);
    const presence = relay.presence;
    if (presence === null || !presence.covers(channel)) {
      return apiError("presence_off", `${channel} has no presence (see --presence)`);
    }
    const answer = async () => {
      try {
        // The envelope's JSON as it is: one serialization for both ways of asking.
        return new Response(await presence.envelope(channel), {
          headers: { "content-type": "application/json" },
        });
      } catch (error) {
        relay.reportError("presence read failed", { channel, error });
        return apiError("unavailable", `cannot read presence of ${channel} now`, { "retry-after": "1" });
      }
    };
    if (relay.hooks === null) return await answer();
    return await admitClient(c, relay, "poll", permissions, [channel], true, answer);
  });
}
