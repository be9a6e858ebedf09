/* vw_dest: see vw_dest.h. */
#include "vw_dest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "vw_net.h"

#define RETRY_MIN_NS (500 * VW_NS_PER_MS)
#define RETRY_MAX_NS (10 * VW_NS_PER_SEC)
/* A connection up this long resets the backoff. Long enough that a relay which accepts and then
 * drops us (overloaded, misconfigured) still sees the delays grow; short enough that a relay
 * restarted every few seconds (a deploy, a crash loop being fixed) gets us back within the first
 * steps of the backoff instead of at its 10 s cap. */
#define STABLE_NS (3 * VW_NS_PER_SEC)
#define AUTH_TIMEOUT_NS (5 * VW_NS_PER_SEC)

const char *vw_dest_state_name(enum vw_dest_state s)
{
	static const char *const names[] = {"idle", "connecting", "authenticating", "connected", "backoff", "closing"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static void set_state(struct vw_dest *d, enum vw_dest_state s)
{
	d->state = s;
	d->sink.wsi = s == VW_DEST_CONNECTED ? d->wsi : NULL; /* only then do chunks make it writable */
	pthread_mutex_lock(&d->lock);
	d->st.state = s;
	if (s == VW_DEST_CONNECTED) {
		d->st.connects++;
		d->up_since_ns = vw_now_ns();
	}
	pthread_mutex_unlock(&d->lock);
}

static void connect_cb(lws_sorted_usec_list_t *sul);

static void schedule(struct vw_dest *d, int64_t delay_ns, sul_cb_t cb)
{
	lws_sul_schedule(d->net->ctx, 0, &d->sul, cb, delay_ns / 1000);
}

/* One log line per change of error, not per attempt: a relay down for an hour logs once. */
static void failure(struct vw_dest *d, const char *why)
{
	/* lws may report one failed attempt twice (say, an HTTP status and then the close) */
	if (d->state == VW_DEST_CLOSING || d->state == VW_DEST_BACKOFF)
		return;
	pthread_mutex_lock(&d->lock);
	d->st.failures++;
	vw_strlcpy(d->st.last_error, why, sizeof(d->st.last_error));
	pthread_mutex_unlock(&d->lock);
	vw_log_gated(d->log, &d->fail_log, vw_log_key(why), vw_now_ns(), VW_LOG_WARN, d->mod, "%s; retrying with backoff",
		     why);
	if (d->up_since_ns && vw_now_ns() - d->up_since_ns >= STABLE_NS)
		vw_backoff_reset(&d->backoff);
	d->have_access = false; /* access URIs are one-time: ask again */
	d->up_since_ns = 0;
	int64_t delay = vw_backoff_next(&d->backoff);
	if (delay == 0) /* the first retry after a stable connection is immediate; later ones back off */
		delay = 1;
	pthread_mutex_lock(&d->lock);
	d->st.retry_at_ns = vw_now_ns() + delay;
	pthread_mutex_unlock(&d->lock);
	set_state(d, VW_DEST_BACKOFF);
	schedule(d, delay, connect_cb);
}

/* Lets go of the current connection: lws closes it in its own time, and nothing it reports from
 * now on reaches d (which may be freed long before). */
static void abandon(struct vw_dest *d)
{
	if (!d->wsi)
		return;
	lws_set_opaque_user_data(d->wsi, NULL);
	lws_set_timeout(d->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	d->wsi = d->sink.wsi = NULL;
}

/* A failure on the current connection, which is over for us from here on. */
static void give_up(struct vw_dest *d, const char *why)
{
	failure(d, why);
	abandon(d);
}

static void do_connect(struct vw_dest *d)
{
	struct lws_client_connect_info i;

	if (d->state == VW_DEST_CLOSING)
		return;
	if (*d->conf.ca_file && d->vhost == d->net->vhost) {
		set_state(d, VW_DEST_CONNECTING);
		failure(d, "cannot use ca_file: not connecting without it");
		return;
	}
	/* access auth: first a POST to the configured URL for a one-time stream URI, then dial that */
	const struct vw_url *u = d->conf.auth == VW_AUTH_ACCESS && d->have_access ? &d->access_url : &d->url;
	d->access_phase = d->conf.auth == VW_AUTH_ACCESS && !d->have_access;
	d->resp_len = 0;
	memset(&i, 0, sizeof(i));
	i.context = d->net->ctx;
	i.vhost = d->vhost;
	i.address = u->host;
	i.port = u->port;
	i.path = u->path;
	i.host = u->host;
	i.origin = u->host;
	d->ws = u->websocket && !d->access_phase;
	i.method = d->ws ? NULL : "POST";
	i.local_protocol_name = VW_DEST_PROTOCOL;
	i.pwsi = &d->wsi;
	i.opaque_user_data = d;
	/* a redirect would take the token (and the stream) to wherever the relay points */
	i.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
	if (u->tls) {
		i.ssl_connection |= LCCSCF_USE_SSL;
		if (d->conf.insecure) {
			i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
					    LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
			vw_warn(d->log, d->mod, "connecting without verifying the certificate of %s (insecure = yes)",
				u->host);
		}
	}
	d->http_started = d->token_sent = d->ping_due = false;
	d->tls_error[0] = 0;
	vw_sink_drop_current(&d->sink);
	set_state(d, VW_DEST_CONNECTING);
	if (!lws_client_connect_via_info(&i) && d->state == VW_DEST_CONNECTING)
		failure(d, "cannot start a connection");
}

static void connect_cb(lws_sorted_usec_list_t *sul)
{
	do_connect(lws_container_of(sul, struct vw_dest, sul));
}

/* x509_ctx is an X509_STORE_CTX, preverify_ok OpenSSL's verdict; nonzero refuses the certificate.
 * lws 4.1 cuts the name to check at its first ':' (meant for a port), so for an IPv6 literal no
 * name is left and OpenSSL checks the chain alone: any certificate the CA signed would do. The
 * server's own certificate (depth 0) must therefore name an IP literal here. */
static int tls_verdict(struct lws *wsi, void *x509_ctx, int preverify_ok)
{
	struct vw_dest *d = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	X509_STORE_CTX *ctx = x509_ctx;
	unsigned char addr[sizeof(struct in6_addr)];

	if (!d || !ctx)
		return 0;
	if (!preverify_ok) {
		snprintf(d->tls_error, sizeof(d->tls_error), "certificate of %s rejected: %s", d->url.host,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		return 0;
	}
	if (d->conf.insecure || X509_STORE_CTX_get_error_depth(ctx) != 0 ||
	    (inet_pton(AF_INET6, d->url.host, addr) != 1 && inet_pton(AF_INET, d->url.host, addr) != 1))
		return 0;
	if (X509_check_ip_asc(X509_STORE_CTX_get_current_cert(ctx), d->url.host, 0) == 1)
		return 0;
	X509_STORE_CTX_set_error(ctx, X509_V_ERR_IP_ADDRESS_MISMATCH);
	snprintf(d->tls_error, sizeof(d->tls_error), "certificate rejected: it does not name %s",
		 d->url.host);
	return 1;
}

/* While connected: ping when a pong is due, hang up when none came for VW_DEST_HANGUP_NS or
 * when queued data made no progress that long (an HTTP POST has no pings). */
static void keepalive_cb(lws_sorted_usec_list_t *sul)
{
	struct vw_dest *d = lws_container_of(sul, struct vw_dest, sul);
	int64_t now = vw_now_ns();
	struct vw_sub_stats ss;

	if (d->state != VW_DEST_CONNECTED || !d->wsi)
		return;
	vw_sub_get_stats(&d->sink.sub, &ss);
	bool stuck = (ss.queued_bytes > 0 || d->sink.cur) && now - d->last_write_ns > VW_DEST_HANGUP_NS;
	if ((d->ws && now - d->last_pong_ns > VW_DEST_HANGUP_NS) || stuck) {
		give_up(d, stuck ? "the relay stopped reading for 20 s" : "no pong from the relay for 20 s");
		return;
	}
	if (d->ws && now - d->last_pong_ns >= VW_DEST_PING_NS && now - d->last_ping_ns >= VW_DEST_PING_NS) {
		d->ping_due = true;
		lws_callback_on_writable(d->wsi);
	}
	schedule(d, VW_NS_PER_SEC, keepalive_cb);
}

static void auth_timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct vw_dest *d = lws_container_of(sul, struct vw_dest, sul);
	if (d->state == VW_DEST_AUTHENTICATING && d->wsi) {
		give_up(d, "the relay did not answer the token within 5 s");
	}
}

/* Connected and allowed to send: start at a keyframe. */
static void start_streaming(struct vw_dest *d)
{
	char held[48];
	long was = vw_log_gate_clear(&d->fail_log);
	int sndbuf = VW_DEST_SNDBUF;
	int fd = lws_get_socket_fd(d->wsi);

	/* A large kernel buffer would hold seconds of stale stream for a slow relay; a small one
	 * lets our queue see the backpressure and drop to a keyframe instead. */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	vw_sink_restart(&d->sink); /* viewers of the relay resync at once: the next chunk is a keyframe */
	set_state(d, VW_DEST_CONNECTED);
	d->last_pong_ns = d->last_ping_ns = d->last_write_ns = vw_now_ns();
	schedule(d, VW_NS_PER_SEC, keepalive_cb);
	vw_info(d->log, d->mod, "connected to %s%s%s", d->url.origin,
		was >= 0 ? " (recovered)" : "", vw_log_suppressed(held, sizeof(held), was));
	lws_callback_on_writable(d->wsi);
}

static int send_next(struct vw_dest *d, struct lws *wsi, bool http)
{
	struct vw_sink_msg m;
	size_t hdr = 0;
	int w;

	if (d->state == VW_DEST_CLOSING)
		return -1;
	if (d->state == VW_DEST_AUTHENTICATING) {
		if (!d->token_sent) {
			size_t tl = strlen(d->conf.token);
			memcpy(d->tx + LWS_PRE, d->conf.token, tl);
			if (lws_write(wsi, d->tx + LWS_PRE, tl, LWS_WRITE_TEXT) < (int)tl)
				return -1;
			d->token_sent = true;
		}
		return 0;
	}
	if (d->state != VW_DEST_CONNECTED)
		return 0;
	/* one write per WRITEABLE: the ping goes alone, between messages (not between the fragments
	 * of a raw message, which some relays do not expect) */
	if (d->ping_due && !http && !vw_sink_mid_message(&d->sink)) {
		d->ping_due = false;
		d->last_ping_ns = vw_now_ns();
		if (lws_write(wsi, d->tx + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (vw_sink_next(&d->sink, &m) <= 0)
		return 0;
	if (http && !m.len) { /* a chunk of size 0 would end the POST */
		vw_sink_sent(&d->sink, &m);
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (http) /* the chunked framing of one long POST, as ffmpeg's HTTP output writes it */
		hdr = (size_t)snprintf((char *)d->tx + LWS_PRE, 16, "%zx\r\n", m.len);
	if (m.len)
		memcpy(d->tx + LWS_PRE + hdr, m.data, m.len);
	if (http)
		memcpy(d->tx + LWS_PRE + hdr + m.len, "\r\n", 2);
	/* a raw message (ingest, or a /ws/ topic's, text or binary) larger than one write goes as
	 * fragments of one websocket message */
	w = lws_write(wsi, d->tx + LWS_PRE, m.len + hdr + (http ? 2 : 0),
		      http ? LWS_WRITE_HTTP
			   : (enum lws_write_protocol)lws_write_ws_flags(m.text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY,
									 !m.cont, !m.more));
	if (w < 0)
		return -1;
	d->last_write_ns = vw_now_ns();
	pthread_mutex_lock(&d->lock);
	d->st.bytes += m.len;
	d->st.messages += !m.more;
	pthread_mutex_unlock(&d->lock);
	vw_filecopy_add(&d->copy, m.data, m.len); /* a copy for the writer thread: never waits */
	vw_sink_sent(&d->sink, &m);
	lws_callback_on_writable(wsi); /* more may be queued; an idle wakeup costs nothing */
	return 0;
}

static void on_text(struct vw_dest *d, const char *in, size_t len)
{
	json_error_t e;
	json_t *j;

	if (d->state != VW_DEST_AUTHENTICATING) {
		if (!d->on_text) {
			vw_debug(d->log, d->mod, "ignoring a %zu-byte text message from the relay", len);
			return;
		}
		if (lws_is_first_fragment(d->wsi)) {
			d->rx_len = 0;
			d->rx_overflow = false;
		}
		if (!d->rx)
			d->rx = malloc(VW_DEST_MAX_TEXT);
		if (!d->rx || d->rx_len + len > VW_DEST_MAX_TEXT)
			d->rx_overflow = true;
		else
			memcpy(d->rx + d->rx_len, in, len);
		d->rx_len += len;
		if (!lws_is_final_fragment(d->wsi))
			return;
		if (d->rx_overflow) /* answered like any other command it cannot read */
			d->on_text(d->text_opaque, "", 0);
		else
			d->on_text(d->text_opaque, d->rx, d->rx_len);
		d->rx_len = 0;
		return;
	}
	j = json_loadb(in, len, 0, &e);
	if (j && json_is_true(json_object_get(j, "authorised"))) {
		lws_sul_cancel(&d->sul);
		start_streaming(d);
	} else {
		give_up(d, "the relay refused the token");
	}
	json_decref(j);
}

/* A piece of a message from the relay of a two-way topic; a whole one goes to the hub, marked as
 * this destination's so that it does not come back here. */
static void on_message(struct vw_dest *d, struct lws *wsi, const void *in, size_t len)
{
	if (!d->rx_len && !d->rx_overflow) /* a new message */
		d->rx_text = !lws_frame_is_binary(wsi);
	if (d->rx_overflow || d->rx_len + len > VW_DEST_MAX_MESSAGE) {
		d->rx_overflow = true;
	} else if (len) {
		if (d->rx_len + len > d->rx_cap) {
			size_t cap = d->rx_cap ? d->rx_cap : 4096;
			while (cap < d->rx_len + len)
				cap *= 2;
			char *b = realloc(d->rx, cap);
			if (!b) {
				d->rx_overflow = true;
				goto end;
			}
			d->rx = b;
			d->rx_cap = cap;
		}
		memcpy(d->rx + d->rx_len, in, len);
		d->rx_len += len;
	}
end:
	if (!lws_is_final_fragment(wsi))
		return;
	if (d->rx_overflow) {
		vw_log_gated(d->log, &d->rx_log, 1, vw_now_ns(), VW_LOG_WARN, d->mod,
			     "a message from the relay over %d KiB was dropped", VW_DEST_MAX_MESSAGE / 1024);
	} else {
		struct vw_chunk *k = vw_chunk_new(d->rx, d->rx_len,
						  VW_CHUNK_KEY | VW_CHUNK_RAW | (d->rx_text ? VW_CHUNK_TEXT : 0), vw_now_ns());
		if (k) {
			k->origin = d->sink.self;
			vw_hub_publish(d->sink.sub.hub, k);
			vw_chunk_unref(k);
		}
	}
	d->rx_len = 0;
	d->rx_overflow = false;
}

/* The connection `wsi` is over: forget it, and make sure no later callback for it reaches d (lws
 * does not promise WSI_DESTROY with our pointer). Returns whether it was d's current connection. */
static bool release(struct vw_dest *d, struct lws *wsi)
{
	lws_set_opaque_user_data(wsi, NULL);
	if (d->wsi != wsi)
		return false;
	d->wsi = d->sink.wsi = NULL;
	return true;
}

static int dest_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct vw_dest *d = lws_get_opaque_user_data(wsi);
	char buf[1024];

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
	case LWS_CALLBACK_CLIENT_WRITEABLE:
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
	case LWS_CALLBACK_CLIENT_RECEIVE:
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		/* A connection its destination let go of (removed, or given up after a failure: its
		 * opaque pointer is cleared then) closes at the first thing it reports. The kill timeout
		 * set then does not always hold, since lws replaces it with its own as a handshake goes
		 * on, and a connection that got through would otherwise stay open, unowned, for as long
		 * as the relay keeps it. (d->wsi may still be NULL here: lws can send the handshake
		 * before lws_client_connect_via_info has stored the new wsi.) */
		if (!d || (d->wsi && d->wsi != wsi))
			return -1;
		break;
	default:
		break;
	}
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION: /* passed on by vw_net */
		return tls_verdict(wsi, user, (int)len);
	case LWS_CALLBACK_CLIENT_HTTP_REDIRECT:
		if (!d)
			return -1;
		snprintf(d->tls_error, sizeof(d->tls_error), "the relay redirects to %.300s: not followed",
			 in ? (const char *)in : "elsewhere");
		return -1;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;
		if (d->conf.auth == VW_AUTH_BEARER || d->access_phase) {
			/* practable's access endpoint takes the token as it is; relays take a bearer */
			char auth[VW_TOKEN_MAX + 8];
			snprintf(auth, sizeof(auth), "%s%s", d->access_phase ? "" : "Bearer ", d->conf.token);
			if (lws_add_http_header_by_name(wsi, (const unsigned char *)"authorization:", (unsigned char *)auth,
							(int)strlen(auth), p, end))
				return -1;
		}
		if (d->access_phase)
			return lws_add_http_header_by_name(wsi, (const unsigned char *)"content-length:",
							   (const unsigned char *)"0", 1, p, end)
				       ? -1
				       : 0;
		if (!d->ws) {
			if (lws_add_http_header_by_name(wsi, (const unsigned char *)"transfer-encoding:",
							(const unsigned char *)"chunked", 7, p, end) ||
			    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-type:",
							(const unsigned char *)"video/mp2t", 10, p, end))
				return -1;
			lws_client_http_body_pending(wsi, 1);
			lws_callback_on_writable(wsi);
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (d->conf.auth == VW_AUTH_FIRST_MESSAGE) {
			set_state(d, VW_DEST_AUTHENTICATING);
			schedule(d, AUTH_TIMEOUT_NS, auth_timeout_cb);
			lws_callback_on_writable(wsi);
			return 0;
		}
		start_streaming(d);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return send_next(d, wsi, false);
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		if (!d->http_started) {
			d->http_started = true;
			/* lws gives the body of a POST its handshake timeout (10 s) and never renews it
			 * while we write: the endless POST would be cut every 10 s. The stall check of
			 * keepalive_cb guards it instead. */
			lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
			start_streaming(d);
		}
		return send_next(d, wsi, true);
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		d->last_pong_ns = vw_now_ns();
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (d->two_way && d->state == VW_DEST_CONNECTED)
			on_message(d, wsi, in, len);
		else if (lws_frame_is_binary(wsi) == 0)
			on_text(d, in, len);
		return 0;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		if (d->ws)
			return 0; /* a websocket's 101: the upgrade goes on */
		if (d->access_phase) {
			int status = (int)lws_http_client_http_response(wsi);
			if (status == 200)
				return 0;
			snprintf(buf, sizeof(buf), "the access endpoint answered HTTP %d", status);
			give_up(d, buf);
			return -1;
		}
		/* the relay answered our endless POST: that ends it */
		snprintf(buf, sizeof(buf), "the relay answered HTTP %d", (int)lws_http_client_http_response(wsi));
		give_up(d, buf);
		return -1;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (d->access_phase) {
			if (d->resp_len + len >= sizeof(d->resp))
				return -1; /* no access reply is this long */
			memcpy(d->resp + d->resp_len, in, len);
			d->resp_len += len;
		}
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (d->access_phase) {
			json_error_t e;
			json_t *j = json_loadb(d->resp, d->resp_len, 0, &e);
			const char *uri = json_string_value(json_object_get(j, "uri"));
			char why[512];
			d->access_phase = false;
			if (uri && vw_url_parse(uri, &d->access_url, why, sizeof(why)) == 0 && d->access_url.websocket) {
				d->have_access = true;
				d->state = VW_DEST_BACKOFF; /* until the connection to the URI is under way */
				schedule(d, 1, connect_cb);
				abandon(d); /* done with: its close is not a failure */
			} else {
				give_up(d, "the access endpoint gave no usable websocket \"uri\"");
			}
			json_decref(j);
		}
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
		char body[1024 + LWS_PRE], *px = body + LWS_PRE;
		int lenx = sizeof(body) - LWS_PRE;
		return lws_http_client_read(wsi, &px, &lenx) < 0 ? -1 : 0;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (d) {
			snprintf(buf, sizeof(buf), "cannot connect to %s: %s", d->url.origin,
				 *d->tls_error ? d->tls_error : in && len ? (const char *)in : "connection failed");
			if (release(d, wsi))
				failure(d, buf);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
	case LWS_CALLBACK_WSI_DESTROY:
		if (d && release(d, wsi)) {
			snprintf(buf, sizeof(buf), "connection to %s closed", d->url.origin);
			failure(d, buf);
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{VW_DEST_PROTOCOL, dest_callback, 0, 4096, 0, NULL, 65536},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

const struct lws_protocols *vw_dest_protocols(void)
{
	return protocols;
}

/* ---- lifecycle (called from other threads; connection work is moved onto the service thread) ---- */

static void attach_job(void *arg)
{
	struct vw_dest *d = arg;
	struct vw_net *n = d->net;

	d->vhost = n->vhost;
	if (*d->conf.ca_file) {
		/* lws takes client CA files per vhost: one vhost for each destination that names one */
		struct lws_context_creation_info info;
		char name[64];
		memset(&info, 0, sizeof(info));
		snprintf(name, sizeof(name), "ca-%p", (void *)d);
		info.vhost_name = name;
		info.port = CONTEXT_PORT_NO_LISTEN;
		info.client_ssl_ca_filepath = d->conf.ca_file;
		/* only this CA: a relay certified by any CA of the system store would pass otherwise */
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
		info.protocols = vw_net_protocols(n);
		struct lws_vhost *vh = lws_create_vhost(n->ctx, &info);
		if (vh)
			d->vhost = vh;
		else /* never the system store instead: that would undo the pinning */
			vw_err(d->log, d->mod, "cannot use ca_file %s: not connecting", d->conf.ca_file);
	}
	vw_sink_join(&d->sink);
	do_connect(d); /* the first attempt is immediate */
}

/* Cuts every tie between d and lws on the service thread, so d can be freed at once: the timer
 * is cancelled and the connection (closed by lws in its own time) no longer points at d. */
static void detach_job(void *arg)
{
	struct vw_dest *d = arg;

	vw_sink_leave(&d->sink);
	lws_sul_cancel(&d->sul);
	d->state = VW_DEST_CLOSING;
	abandon(d);
}

static void destroy_vhost_job(void *arg)
{
	struct vw_dest *d = arg;
	if (d->vhost != d->net->vhost)
		lws_vhost_destroy(d->vhost);
}

int vw_dest_start(struct vw_dest *d, const struct vw_dest_conf *conf, struct vw_hub *hub, int64_t bitrate,
		  struct vw_net *net, struct vw_log *log)
{
	int ret;
	char err[512];

	memset(d, 0, sizeof(*d));
	d->conf = *conf;
	d->net = net;
	d->log = log;
	snprintf(d->mod, sizeof(d->mod), "destination %s", conf->name);
	if (vw_url_parse(conf->url, &d->url, err, sizeof(err)) < 0) {
		vw_err(log, d->mod, "%s", err);
		return -EINVAL;
	}
	/* which login a relay gets decides whether it accepts us: say it once (never the path or the
	 * token, which may hold the relay's secret) */
	vw_info(log, d->mod, "sending stream %s to %s, login: %s", conf->stream, d->url.origin,
	        vw_auth_name(conf->auth));
	d->tx = malloc(LWS_PRE + VW_TS_CHUNK_MAX + 32);
	if (!d->tx)
		return -ENOMEM;
	vw_backoff_init(&d->backoff, RETRY_MIN_NS, RETRY_MAX_NS, 0.2, (uint64_t)(uintptr_t)d ^ (uint64_t)vw_now_ns());
	pthread_mutex_init(&d->lock, NULL);
	/* The queue bound as stream time becomes bytes at the stream's rate, and an age limit. */
	ret = vw_sink_init(&d->sink, hub, vw_sink_queue_bytes(conf->queue_bytes, conf->queue_ns, bitrate),
			   conf->queue_ns, net);
	if (ret < 0)
		goto fail;
	if (*conf->file && (ret = vw_filecopy_start(&d->copy, conf->file, d->mod, log)) < 0) {
		vw_sink_fini(&d->sink);
		goto fail;
	}
	ret = vw_net_call(net, attach_job, d);
	if (ret < 0) {
		vw_filecopy_stop(&d->copy);
		vw_sink_fini(&d->sink);
		goto fail;
	}
	return 0;
fail:
	pthread_mutex_destroy(&d->lock);
	free(d->tx);
	return ret;
}

struct text_job {
	struct vw_dest *d;
	void (*fn)(void *opaque, const char *msg, size_t len);
	void *opaque;
};

static void text_job(void *arg)
{
	struct text_job *j = arg;
	j->d->on_text = j->fn;
	j->d->text_opaque = j->opaque;
}

void vw_dest_set_text_handler(struct vw_dest *d, void (*fn)(void *opaque, const char *msg, size_t len), void *opaque)
{
	struct text_job j = {d, fn, opaque};
	vw_net_call(d->net, text_job, &j);
}

static void two_way_job(void *arg)
{
	struct vw_dest *d = arg;
	d->two_way = true;
	d->sink.self = (uintptr_t)&d->sink;
	d->rx_log.window_ns = 10 * VW_NS_PER_SEC;
}

void vw_dest_set_two_way(struct vw_dest *d)
{
	vw_net_call(d->net, two_way_job, d);
}

void vw_dest_stop(struct vw_dest *d)
{
	vw_net_call(d->net, detach_job, d);
	vw_net_call(d->net, destroy_vhost_job, d);
	vw_filecopy_stop(&d->copy); /* nothing hands it messages any more */
	vw_sink_fini(&d->sink);
	free(d->tx);
	d->tx = NULL;
	free(d->rx);
	d->rx = NULL;
	pthread_mutex_destroy(&d->lock);
}

void vw_dest_get_stats(struct vw_dest *d, struct vw_dest_stats *st)
{
	struct vw_sub_stats ss;
	pthread_mutex_lock(&d->lock);
	*st = d->st;
	st->connected_ns = d->st.state == VW_DEST_CONNECTED && d->up_since_ns ? vw_now_ns() - d->up_since_ns : 0;
	pthread_mutex_unlock(&d->lock);
	vw_sub_get_stats(&d->sink.sub, &ss);
	st->dropped_chunks = ss.dropped_chunks;
	st->queued_bytes = ss.queued_bytes;
	vw_filecopy_get_stats(&d->copy, &st->copy);
}
