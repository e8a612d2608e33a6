// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Handlers of the example schema (sensor.cell).  Freestanding C99: they
 * see validated requests and build responses in the board's buffer.
 */
#include "sensor_app.h"

static enum cell_status add(const struct sensor_pair *req, struct sensor_sum *resp,
			    struct cell_mcu_call *call, void *ctx)
{
	int64_t v = (int64_t)req->a + req->b;

	(void)call;
	(void)ctx;
	resp->value = v;
	resp->overflow = v > INT32_MAX || v < INT32_MIN;
	return CELL_STATUS_OK;
}

/* seq + 1, the bytes as they came, the note with ASCII letters upper-cased. */
static enum cell_status echo(const struct sensor_blob *req, struct cellc_builder *b,
			     struct cell_mcu_call *call, void *ctx)
{
	struct sensor_blob *r = sensor_blob_start(b);
	const uint8_t *data;
	const char *note;
	uint32_t dlen, nlen, i;
	char *out;

	(void)ctx;
	if (!r)
		return CELL_STATUS_INTERNAL;
	r->seq = req->seq + 1;
	data = sensor_blob_data(req, &dlen);
	note = sensor_blob_note(req, &nlen);
	if (sensor_blob_set_data(b, r, data, dlen))
		goto full;
	out = sensor_blob_alloc_note(b, r, nlen);
	if (!out && nlen)
		goto full;
	for (i = 0; i < nlen; i++)
		out[i] = note[i] >= 'a' && note[i] <= 'z' ? (char)(note[i] - 'a' + 'A') : note[i];
	return CELL_STATUS_OK;
full:
	call->detail = "echo: response larger than CELL_MCU_MAX_PAYLOAD";
	return CELL_STATUS_TOO_LARGE;
}

static enum cell_status stats(const struct sensor_nothing *req, struct sensor_counters *resp,
			      struct cell_mcu_call *call, void *ctx)
{
	const struct sensor_app *app = ctx;
	const struct cell_mcu_server *srv = &app->mcu.srv;

	(void)req;
	(void)call;
	resp->frames = srv->stats.frames;
	resp->calls = srv->stats.calls;
	resp->bad_frames = srv->stats.bad_frames;
	resp->bad_crc = srv->stats.bad_crc;
	resp->bad_fingerprint = srv->stats.bad_fingerprint;
	resp->unknown_method = srv->stats.unknown_method;
	resp->bad_request = srv->stats.bad_request;
	resp->stalls = srv->stats.stalls;
	resp->cobs_errors = srv->rx.errors;
	return CELL_STATUS_OK;
}

static enum cell_status set_led(const struct sensor_led *req, struct cell_mcu_call *call, void *ctx)
{
	struct sensor_app *app = ctx;

	if (req->index >= 8) {
		call->detail = "set_led: no such LED";
		return CELL_STATUS_INVALID_ARGUMENT;
	}
	if (app->leds[req->index] != req->on)
		app->led_changes++;
	app->leds[req->index] = req->on;
	return CELL_STATUS_OK;
}

static enum cell_status get_leds(const struct sensor_nothing *req, struct sensor_leds *resp,
				 struct cell_mcu_call *call, void *ctx)
{
	const struct sensor_app *app = ctx;

	(void)req;
	(void)call;
	memcpy(resp->on, app->leds, sizeof(resp->on));
	resp->changes = app->led_changes;
	return CELL_STATUS_OK;
}

static const struct sensor_mcu_handlers handlers = {
	.add = add,
	.echo = echo,
	.stats = stats,
	.set_led = set_led,
	.get_leds = get_leds,
};

void sensor_app_init(struct sensor_app *app, const struct cell_mcu_uart *uart)
{
	memset(app->leds, 0, sizeof(app->leds));
	app->led_changes = 0;
	sensor_mcu_init(&app->mcu, uart, &handlers, app);
}
