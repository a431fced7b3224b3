/* SPDX-License-Identifier: MIT */
/* The built-in seed of ado-clickup-sim (used without --seed): three users
 * known to both services by e-mail, one ClickUp workspace/space/folder/list
 * with the statuses `to do`, `in progress`, `review`, `complete`, and the ADO
 * organization/project. A --seed file has the same shape.
 *
 * SEED FORMAT (every key of "clickup" is optional except team and spaces)
 *   users[]: name, email, ado_id, clickup_id (int), color
 *   ado: organization, project, pat (the ADO simulator reads its own keys)
 *   clickup:
 *     token             "pk_..." personal token (Authorization header value)
 *     token_user        clickup_id of the token's owner (default: first user)
 *     rate_limit        requests per minute per token (100, ClickUp's Free..Business)
 *     not_found_status  status of unknown task/list/comment ids (404; fixtures
 *                       of real clients also show 401)
 *     comment_id_number POST comment answers "id" as a JSON number (true, as a
 *                       real capture shows) or a string (false, as the SPEC)
 *     webhook: max_attempts (5), suspend_after (100), retry_delay_ms (1000),
 *              timeout_ms (7000), concurrency (1: deliveries started at once
 *              per webhook; the same key under ado.webhook applies per
 *              subscription)
 *     team: id, name, color
 *     spaces[]: id, name, statuses[] {id, status, type, orderindex, color},
 *               tags[] {name, tag_fg, tag_bg}, lists[] (folderless),
 *               folders[] {id, name, lists[]}
 *       list: id, name, statuses[] (overrides the space's), custom_fields[]
 *             (the Task custom field definition shape, without value)
 *     tasks[]: {"list": id, ...a POST /list/{id}/task body...} created at start
 */
#include "sim.h"

const char *sim_default_seed(void)
{
	return "{"
	       "\"users\": ["
	       "{\"name\": \"Avery Chen\", \"email\": \"avery.chen@example.com\","
	       " \"ado_id\": \"6c1f8a7e-2b3d-4e5f-9a0b-1c2d3e4f5a61\", \"clickup_id\": 54098740,"
	       " \"color\": \"#7b68ee\"},"
	       "{\"name\": \"Sam Ortiz\", \"email\": \"sam.ortiz@example.com\","
	       " \"ado_id\": \"7d2a9b8f-3c4e-4f6a-8b1c-2d3e4f5a6b72\", \"clickup_id\": 54098741,"
	       " \"color\": \"#e8384f\"},"
	       "{\"name\": \"Riley Park\", \"email\": \"riley.park@example.com\","
	       " \"ado_id\": \"8e3bac90-4d5f-4a7b-9c2d-3e4f5a6b7c83\", \"clickup_id\": 54098742,"
	       " \"color\": \"#0ab4ff\"}"
	       "],"
	       "\"ado\": {\"organization\": \"contoso\", \"project\": \"Platform\","
	       " \"pat\": \"simadopat0123456789abcdefghijklmnopqrstuvwxyz0123\"},"
	       "\"clickup\": {"
	       "\"token\": \"pk_54098740_SIMULATEDTOKEN0123456789ABCDEFGHIJ\","
	       "\"token_user\": 54098740,"
	       "\"rate_limit\": 100,"
	       "\"not_found_status\": 404,"
	       "\"comment_id_number\": true,"
	       "\"webhook\": {\"max_attempts\": 5, \"suspend_after\": 100,"
	       " \"retry_delay_ms\": 1000, \"timeout_ms\": 7000},"
	       "\"team\": {\"id\": \"36226098\", \"name\": \"Contoso\", \"color\": \"#7b68ee\"},"
	       "\"spaces\": [{"
	       "\"id\": \"90110993233\", \"name\": \"Engineering\","
	       "\"statuses\": ["
	       "{\"id\": \"p90110993233_sTodo001\", \"status\": \"to do\", \"type\": \"open\","
	       " \"orderindex\": 0, \"color\": \"#87909e\"},"
	       "{\"id\": \"p90110993233_Xk2LmNpQ\", \"status\": \"in progress\", \"type\": "
	       "\"custom\","
	       " \"orderindex\": 1, \"color\": \"#5f55ee\"},"
	       "{\"id\": \"p90110993233_sReview1\", \"status\": \"review\", \"type\": \"custom\","
	       " \"orderindex\": 2, \"color\": \"#f9d900\"},"
	       "{\"id\": \"p90110993233_sDone001\", \"status\": \"complete\", \"type\": \"closed\","
	       " \"orderindex\": 3, \"color\": \"#008844\"}"
	       "],"
	       "\"tags\": [{\"name\": \"sync\", \"tag_fg\": \"#FF4081\", \"tag_bg\": \"#FF4081\"}],"
	       "\"lists\": [],"
	       "\"folders\": [{\"id\": \"90114567890\", \"name\": \"Platform\", \"lists\": [{"
	       "\"id\": \"901110236848\", \"name\": \"Integrations\","
	       "\"custom_fields\": ["
	       "{\"id\": \"0f4b1c2d-3e5f-4a6b-8c7d-9e0f1a2b3c4d\", \"name\": \"ADO Work Item\","
	       " \"type\": \"number\", \"type_config\": {}, \"date_created\": \"1767300000000\","
	       " \"hide_from_guests\": false, \"required\": false},"
	       "{\"id\": \"5a6b7c8d-9e0f-4a1b-2c3d-4e5f6a7b8c9d\", \"name\": \"Sync state\","
	       " \"type\": \"drop_down\", \"type_config\": {\"sorting\": \"manual\","
	       " \"new_drop_down\": true, \"options\": ["
	       "{\"id\": \"a1b2c3d4-e5f6-4789-8abc-def012345678\", \"name\": \"linked\","
	       " \"color\": \"#2ecd6f\", \"orderindex\": 0},"
	       "{\"id\": \"b2c3d4e5-f6a7-4890-9bcd-ef0123456789\", \"name\": \"conflict\","
	       " \"color\": \"#e50000\", \"orderindex\": 1}]},"
	       " \"date_created\": \"1767300000000\", \"hide_from_guests\": false,"
	       " \"required\": false},"
	       "{\"id\": \"9c8b7a6f-5e4d-4c3b-a2a1-0f9e8d7c6b5a\", \"name\": \"ADO URL\","
	       " \"type\": \"url\", \"type_config\": {}, \"date_created\": \"1767300000000\","
	       " \"hide_from_guests\": false, \"required\": false}"
	       "]}]}]"
	       "}],"
	       "\"tasks\": []"
	       "}"
	       "}";
}
