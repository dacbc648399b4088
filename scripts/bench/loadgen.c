/*
 * Edge Relay load generator: many WebSocket clients in one epoll loop.
 *
 * Speaks the raw-mode contract (GET /ws/:channel, every message broadcast to every socket of the channel,
 * the sender included). Written in C so that it outruns the server under test: one thread, non-blocking
 * sockets, level-triggered epoll, client frames built from a pre-masked template (only the 16-byte stamp
 * is masked per send), server frames parsed as a stream without copying payloads.
 *
 * Every message payload starts with a 16-byte stamp: send time (CLOCK_MONOTONIC ns, u64 LE), publisher id
 * (u32 LE), sequence number (u32 LE). A delivery is one whole message received by one client; its latency
 * is receive time minus the stamped send time (same machine, same clock).
 *
 * Modes:
 *   closed loop (default): each publisher keeps at most --window messages in flight; a message leaves the
 *     window once every client of its channel received it. This saturates the server without burying it.
 *   --rate R: open loop, R deliveries per second in total (R / clients-per-channel messages per second,
 *     round-robin over publishers); report latency percentiles.
 *   --idle: open the connections, hold them for --duration seconds, report the server's RSS before/after.
 *
 * Variants (any mode):
 *   --text: publish text frames whose payload starts with a 32-character hex stamp (the same three fields), so
 *     that the stamp survives a text transport; --json makes the rest of the payload JSON-like text (the stamp
 *     then sits in its first string, at a fixed offset).
 *   --sse: every client but the publishers reads server-sent events (GET <sse-prefix><channel>/events, chunked
 *     or close-delimited text/event-stream); an `event: message` block is one delivery, its stamp is read from
 *     the `"text":"` field of the data line (needs --text without --json: the stamp then needs no JSON escape).
 *     A stream counts as open once its `subscribed` event arrived, so no message is published before it joined.
 *   --deflate: offer permessage-deflate (RFC 7692) with client_no_context_takeover; compressed messages (RSV1)
 *     are inflated with zlib, one message at a time (the server keeps no context either): the stamp comes from
 *     the inflated bytes. Inflating every 3 KiB message whole would cost the load generator more than the
 *     server spends per delivery, so only every VERIFY_EVERY-th is inflated whole (its length checked against
 *     --size); the others only as far as the stamp.
 *
 * Every byte read from the server inside the window is counted (rx_bytes): bytes on the wire per delivery.
 *
 * The server's CPU time (utime + stime from /proc/PID/stat) and RSS are read by this program at the exact
 * window boundaries when --server-pid is given. The result is one JSON line on stdout.
 *
 * Build: cc -O2 -o loadgen loadgen.c -lz
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSED };

/* RFC 6455 section 5.2 opcodes. */
enum { OP_CONT = 0x0, OP_TEXT = 0x1, OP_BINARY = 0x2, OP_CLOSE = 0x8, OP_PING = 0x9, OP_PONG = 0xA };

#define STAMP_BYTES 16
/* the text stamp: the same fields as 16 + 8 + 8 lowercase hex digits */
#define TEXT_STAMP_CHARS 32
/* bytes of each message payload kept for the stamp (the JSON payload's stamp starts at JSON_STAMP_OFFSET) */
#define CAP_BYTES 64
#define JSON_STAMP_OFFSET 10
/* every this many compressed deliveries, one is inflated whole and its length checked */
#define VERIFY_EVERY 16
/* bytes of each event-stream line kept (the stamp must start within them); the rest of a line is skipped */
#define SSE_LINE_BYTES 256
/* RFC 7692 section 7.2.2: the tail a sender strips from every compressed message */
static const uint8_t DEFLATE_TAIL[4] = {0x00, 0x00, 0xff, 0xff};
#define READ_BUFFER_BYTES (256 * 1024)
#define LAT_FINE_US 100000    /* 1 us buckets up to 100 ms */
#define LAT_COARSE_MS 120000  /* then 1 ms buckets up to 120 s */

typedef struct {
  int fd;
  int state;
  int channel;
  int pub;  /* global publisher id, or -1 */
  /* handshake response */
  char hs[2048];
  int hs_len;
  /* frame parser */
  uint8_t hdr[14];
  int hdr_len, hdr_need;
  uint64_t payload_left;
  uint8_t opcode, fin, msg_opcode, msg_compressed;
  uint8_t cap[CAP_BYTES];
  int cap_len;
  /* permessage-deflate: agreed on this connection; the compressed bytes of the message being received */
  int deflate;
  uint8_t *z;
  size_t z_len, z_cap;
  /* server-sent events: chunked body state, the current line and the current block's event */
  int sse, sse_ready, chunked, ch_state, ev;
  uint64_t ch_left;
  uint8_t line[SSE_LINE_BYTES];
  int line_len;
  uint8_t ev_stamp[TEXT_STAMP_CHARS];
  int ev_has_stamp;
  uint8_t ctrl[125];
  int ctrl_len;
  /* output */
  uint8_t *out;
  size_t out_off, out_len, out_cap;
  int want_out;
  /* order check: next expected sequence number per publisher of the channel */
  uint32_t *next_seq;
} conn_t;

typedef struct {
  int conn;
  uint32_t next_seq;
  uint32_t inflight;
  uint32_t *remaining; /* per window slot: deliveries still missing */
  int dirty, queued;
} pub_t;

/* options */
static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static const char *opt_prefix = "/ws/bench-";
static const char *opt_sse_prefix = "/channels/bench-";
static int opt_text = 0, opt_json = 0, opt_sse = 0, opt_deflate = 0;
static int opt_channels = 1, opt_clients = 16, opt_publishers = -1 /* all */, opt_size = 32, opt_window = 8;
static double opt_warmup = 1.0, opt_duration = 3.0, opt_rate = 0.0, opt_connect_timeout = 30.0;
static int opt_idle = 0, opt_server_pid = 0, opt_connect_concurrency = 128, opt_server_core = -1, opt_client_core = -1;

/* state */
static int ep;
static conn_t *conns;
static pub_t *pubs;
static int nconns, npubs;
static uint8_t *tmpl;   /* pre-masked client frame */
static size_t tmpl_len, tmpl_payload_off, stamp_off;
static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};
static uint8_t rbuf[READ_BUFFER_BYTES];
static int measuring = 0;
static uint64_t win_deliveries, win_sent, all_deliveries, all_sent;
static uint64_t gaps, reorders, bad, closes, errors_count, opened;
/* bytes read from the server inside the window; deliveries that arrived compressed; connections with deflate */
static uint64_t win_rx_bytes, win_compressed, deflate_agreed;
static z_stream zs;
static uint64_t compressed_seen;
static uint8_t *inflated;
static size_t inflated_cap;
/* the first close frame the server sent (RFC 6455 section 7.4 code, reason), for diagnostics */
static int first_close_code = -1;
static char first_close_reason[126];
static uint64_t *lat_fine, *lat_coarse, lat_count, lat_max_us;
static volatile sig_atomic_t stop_flag = 0;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *msg) {
  printf("{\"ok\":false,\"error\":\"%s\",\"opened\":%llu,\"errno\":%d}\n", msg, (unsigned long long)opened, errno);
  fflush(stdout);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p) die("out of memory");
  return p;
}

/* ---- /proc readers ---- */

static long long proc_cpu_ticks(int pid) {
  if (pid <= 0) return -1;
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  /* the command name may contain spaces: fields are counted after the last ')' */
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2; /* now at field 3 (state) */
  unsigned long long utime = 0, stime = 0;
  int field = 3;
  while (*p && field < 14) {
    if (*p == ' ') field++;
    p++;
  }
  if (sscanf(p, "%llu %llu", &utime, &stime) != 2) return -1;
  return (long long)(utime + stime);
}

static long long proc_rss_kib(int pid) {
  if (pid <= 0) return -1;
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long long kib = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kib = atoll(line + 6);
      break;
    }
  }
  fclose(f);
  return kib;
}

/* Busy ticks of one core (everything but idle and iowait, from /proc/stat), to see who else used it. */
static long long proc_core_busy_ticks(int core) {
  if (core < 0) return -1;
  char want[16], line[512];
  int wl = snprintf(want, sizeof want, "cpu%d ", core);
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  long long busy = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, want, (size_t)wl) != 0) continue;
    unsigned long long v[8] = {0};
    sscanf(line + wl, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
           &v[7]);
    /* user nice system idle iowait irq softirq steal */
    busy = (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
    break;
  }
  fclose(f);
  return busy;
}

static long long self_cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec + (long long)ru.ru_stime.tv_sec * 1000000 +
         ru.ru_stime.tv_usec;
}

/* ---- latency histogram ---- */

static void lat_record(uint64_t us) {
  if (us < LAT_FINE_US) lat_fine[us]++;
  else {
    uint64_t ms = us / 1000;
    lat_coarse[ms < LAT_COARSE_MS ? ms : LAT_COARSE_MS - 1]++;
  }
  if (us > lat_max_us) lat_max_us = us;
  lat_count++;
}

static double lat_percentile(double q) {
  if (lat_count == 0) return -1;
  uint64_t rank = (uint64_t)(q * (double)lat_count);
  if (rank >= lat_count) rank = lat_count - 1;
  uint64_t seen = 0;
  for (int i = 0; i < LAT_FINE_US; i++) {
    seen += lat_fine[i];
    if (seen > rank) return (double)i;
  }
  for (int i = 0; i < LAT_COARSE_MS; i++) {
    seen += lat_coarse[i];
    if (seen > rank) return (double)i * 1000.0;
  }
  return (double)lat_max_us;
}

/* ---- output buffers ---- */

static void out_reserve(conn_t *c, size_t extra) {
  if (c->out_off > 0 && c->out_off == c->out_len) c->out_off = c->out_len = 0;
  if (c->out_len + extra <= c->out_cap) return;
  if (c->out_off > 0) { /* compact first */
    memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
    c->out_len -= c->out_off;
    c->out_off = 0;
    if (c->out_len + extra <= c->out_cap) return;
  }
  size_t cap = c->out_cap ? c->out_cap : 4096;
  while (cap < c->out_len + extra) cap *= 2;
  c->out = realloc(c->out, cap);
  if (!c->out) die("out of memory");
  c->out_cap = cap;
}

static void conn_close(conn_t *c) {
  if (c->state == ST_CLOSED) return;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = ST_CLOSED;
}

static void set_events(conn_t *c, int want_out) {
  if (c->want_out == want_out) return;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = want_out;
}

static void conn_flush(conn_t *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n > 0) {
      c->out_off += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_events(c, 1);
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    errors_count++;
    conn_close(c);
    return;
  }
  c->out_off = c->out_len = 0;
  set_events(c, 0);
}

/* Appends one pre-masked data frame with a fresh stamp. */
static void append_message(conn_t *c, pub_t *p) {
  out_reserve(c, tmpl_len);
  uint8_t *f = c->out + c->out_len;
  memcpy(f, tmpl, tmpl_len);
  uint8_t stamp[STAMP_BYTES];
  uint64_t t = now_ns();
  uint32_t id = (uint32_t)(p - pubs), seq = p->next_seq;
  memcpy(stamp, &t, 8);
  memcpy(stamp + 8, &id, 4);
  memcpy(stamp + 12, &seq, 4);
  uint8_t *pl = f + tmpl_payload_off;
  if (opt_text) {
    static const char HEX[] = "0123456789abcdef";
    /* the masking key repeats every 4 bytes from the payload start */
    for (int i = 0; i < STAMP_BYTES; i++) {
      size_t at = stamp_off + 2 * (size_t)i;
      pl[at] = (uint8_t)HEX[stamp[i] >> 4] ^ MASK[at & 3];
      pl[at + 1] = (uint8_t)HEX[stamp[i] & 15] ^ MASK[(at + 1) & 3];
    }
  } else {
    for (int i = 0; i < STAMP_BYTES; i++) pl[i] = stamp[i] ^ MASK[i & 3];
  }
  c->out_len += tmpl_len;
  p->next_seq++;
  all_sent++;
  if (measuring) win_sent++;
}

/* Appends a masked control frame (pong, close). */
static void append_control(conn_t *c, uint8_t opcode, const uint8_t *payload, int len) {
  out_reserve(c, 6 + (size_t)len);
  uint8_t *f = c->out + c->out_len;
  f[0] = 0x80 | opcode;
  f[1] = 0x80 | (uint8_t)len;
  memcpy(f + 2, MASK, 4);
  for (int i = 0; i < len; i++) f[6 + i] = payload[i] ^ MASK[i & 3];
  c->out_len += 6 + (size_t)len;
}

/* ---- deliveries ---- */

static void mark_dirty(pub_t *p);

static int hex_value(uint8_t ch) {
  return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The 16 stamp bytes from `len` bytes at `p` (binary, or 32 hex digits with --text); 0 if it is not one. */
static int stamp_decode(const uint8_t *p, int len, uint8_t out[STAMP_BYTES]) {
  if (!opt_text) {
    if (len < STAMP_BYTES) return 0;
    memcpy(out, p, STAMP_BYTES);
    return 1;
  }
  if (len < TEXT_STAMP_CHARS) return 0;
  for (int i = 0; i < STAMP_BYTES; i++) {
    int hi = hex_value(p[2 * i]), lo = hex_value(p[2 * i + 1]);
    if (hi < 0 || lo < 0) return 0;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 1;
}

/* One whole message received by `c`: `p`/`len` are the bytes where its stamp should start. */
static void deliver(conn_t *c, uint64_t now, const uint8_t *p, int len) {
  uint8_t stamp[STAMP_BYTES];
  if (!stamp_decode(p, len, stamp)) {
    bad++;
    return;
  }
  uint64_t sent;
  uint32_t id, seq;
  memcpy(&sent, stamp, 8);
  memcpy(&id, stamp + 8, 4);
  memcpy(&seq, stamp + 12, 4);
  if (id >= (uint32_t)npubs || (int)(id / (uint32_t)opt_publishers) != c->channel) {
    bad++;
    return;
  }
  uint32_t local = id % (uint32_t)opt_publishers;
  uint32_t expected = c->next_seq[local];
  if (seq > expected) gaps += seq - expected;
  else if (seq < expected) reorders++;
  c->next_seq[local] = seq + 1;
  all_deliveries++;
  if (measuring) {
    win_deliveries++;
    lat_record(now > sent ? (now - sent) / 1000 : 0);
  }
  if (opt_rate <= 0) {
    pub_t *p = &pubs[id];
    /* only messages still inside the window count towards completion */
    if (seq < p->next_seq && p->next_seq - seq <= (uint32_t)opt_window) {
      uint32_t *r = &p->remaining[seq % (uint32_t)opt_window];
      if (*r > 0 && --*r == 0) {
        p->inflight--;
        mark_dirty(p);
      }
    }
  }
}

static pub_t **dirty_list;
static int dirty_count;

static void mark_dirty(pub_t *p) {
  if (p->dirty) return;
  p->dirty = 1;
  dirty_list[dirty_count++] = p;
}

/* Inflates the compressed message collected in c->z (RFC 7692 section 7.2.2: append the stripped tail). */
static void deliver_compressed(conn_t *c, uint64_t now) {
  if (c->z_len + sizeof DEFLATE_TAIL > c->z_cap) {
    c->z_cap = c->z_len + sizeof DEFLATE_TAIL;
    c->z = realloc(c->z, c->z_cap);
    if (!c->z) die("out of memory");
  }
  memcpy(c->z + c->z_len, DEFLATE_TAIL, sizeof DEFLATE_TAIL);
  int whole = compressed_seen++ % VERIFY_EVERY == 0;
  size_t want = whole ? inflated_cap : stamp_off + TEXT_STAMP_CHARS;
  inflateReset(&zs);
  zs.next_in = c->z;
  zs.avail_in = (uInt)(c->z_len + sizeof DEFLATE_TAIL);
  zs.next_out = inflated;
  zs.avail_out = (uInt)want;
  int r = inflate(&zs, Z_SYNC_FLUSH);
  size_t out = want - zs.avail_out;
  c->z_len = 0;
  /* every message the load generator publishes is --size bytes: anything else was mangled */
  if ((r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) || (whole && out != (size_t)opt_size)) {
    bad++;
    return;
  }
  if (measuring) win_compressed++;
  deliver(c, now, inflated + stamp_off, (int)(out - stamp_off));
}

/* Streams the bytes of one read through the frame parser (RFC 6455 section 5.2). */
static void parse_frames(conn_t *c, const uint8_t *p, size_t n, uint64_t now) {
  const uint8_t *end = p + n;
  while (p < end) {
    if (c->hdr_len < c->hdr_need) {
      size_t take = (size_t)(c->hdr_need - c->hdr_len);
      if (take > (size_t)(end - p)) take = (size_t)(end - p);
      memcpy(c->hdr + c->hdr_len, p, take);
      c->hdr_len += (int)take;
      p += take;
      if (c->hdr_len < c->hdr_need) return;
      if (c->hdr_len == 2) {
        if (c->hdr[1] & 0x80) { /* servers must not mask (section 5.1) */
          bad++;
          conn_close(c);
          return;
        }
        uint8_t len7 = c->hdr[1] & 0x7f;
        c->hdr_need = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
        if (c->hdr_len < c->hdr_need) continue;
      }
      uint8_t len7 = c->hdr[1] & 0x7f;
      uint64_t len = len7;
      if (len7 == 126) len = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
      else if (len7 == 127) {
        len = 0;
        for (int i = 2; i < 10; i++) len = (len << 8) | c->hdr[i];
      }
      c->fin = c->hdr[0] >> 7;
      c->opcode = c->hdr[0] & 0x0f;
      c->payload_left = len;
      if (c->opcode == OP_TEXT || c->opcode == OP_BINARY) {
        c->msg_opcode = c->opcode;
        c->cap_len = 0;
        c->z_len = 0;
        /* RSV1 on the first frame marks a compressed message (RFC 7692 section 6) */
        c->msg_compressed = (c->hdr[0] & 0x40) != 0;
        if (c->msg_compressed && !c->deflate) {
          bad++;
          conn_close(c);
          return;
        }
      } else if (c->opcode >= OP_CLOSE) {
        c->ctrl_len = 0;
      }
      if (len > 0) continue;
    } else {
      size_t take = c->payload_left < (uint64_t)(end - p) ? (size_t)c->payload_left : (size_t)(end - p);
      if (c->opcode >= OP_CLOSE) {
        size_t room = sizeof c->ctrl - (size_t)c->ctrl_len;
        size_t k = take < room ? take : room;
        memcpy(c->ctrl + c->ctrl_len, p, k);
        c->ctrl_len += (int)k;
      } else if (c->msg_compressed) {
        if (c->z_len + take > c->z_cap) {
          size_t cap = c->z_cap ? c->z_cap : 1024;
          while (cap < c->z_len + take) cap *= 2;
          c->z = realloc(c->z, cap);
          if (!c->z) die("out of memory");
          c->z_cap = cap;
        }
        memcpy(c->z + c->z_len, p, take);
        c->z_len += take;
      } else if (c->cap_len < CAP_BYTES) {
        size_t k = take < (size_t)(CAP_BYTES - c->cap_len) ? take : (size_t)(CAP_BYTES - c->cap_len);
        memcpy(c->cap + c->cap_len, p, k);
        c->cap_len += (int)k;
      }
      p += take;
      c->payload_left -= take;
      if (c->payload_left > 0) return;
    }
    /* a whole frame is in */
    c->hdr_len = 0;
    c->hdr_need = 2;
    switch (c->opcode) {
      case OP_TEXT:
      case OP_BINARY:
      case OP_CONT:
        if (!c->fin) break;
        if (c->msg_compressed) deliver_compressed(c, now);
        else deliver(c, now, c->cap + stamp_off, c->cap_len - (int)stamp_off);
        break;
      case OP_PING:
        append_control(c, OP_PONG, c->ctrl, c->ctrl_len);
        conn_flush(c);
        break;
      case OP_CLOSE:
        if (first_close_code < 0) {
          first_close_code = c->ctrl_len >= 2 ? (c->ctrl[0] << 8) | c->ctrl[1] : 1005;
          int n = c->ctrl_len > 2 ? c->ctrl_len - 2 : 0;
          for (int i = 0; i < n; i++) { /* keep the JSON output valid */
            uint8_t ch = c->ctrl[2 + i];
            first_close_reason[i] = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char)ch : '?';
          }
          first_close_reason[n] = 0;
        }
        closes++;
        conn_close(c);
        return;
      default:
        break;
    }
    if (c->state == ST_CLOSED) return;
  }
}

/* ---- connections ---- */

static struct sockaddr_in server_addr;
static int next_to_connect = 0, connecting = 0;

static void start_connect(int i) {
  conn_t *c = &conns[i];
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket() failed (raise ulimit -n?)");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r = connect(c->fd, (struct sockaddr *)&server_addr, sizeof server_addr);
  if (r < 0 && errno != EINPROGRESS) die("connect() failed");
  c->state = ST_CONNECTING;
  c->want_out = 1;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl failed");
  connecting++;
}

static void connect_more(void) {
  while (next_to_connect < nconns && connecting < opt_connect_concurrency) start_connect(next_to_connect++);
}

/* A connection is ready for the run: WebSockets after the 101, event streams after their `subscribed` event. */
static void mark_open(conn_t *c) {
  (void)c;
  connecting--;
  opened++;
  connect_more();
}

/* ---- server-sent events ---- */

enum { EV_NONE, EV_MESSAGE, EV_SUBSCRIBED, EV_OTHER };
enum { CH_SIZE, CH_EXTENSION, CH_DATA, CH_DATA_END };

/* One line of the event stream (WHATWG HTML section 9.2.6; the relay ends lines with LF). */
static void sse_line(conn_t *c, uint64_t now) {
  const uint8_t *l = c->line;
  int n = c->line_len;
  if (n > 0 && l[n - 1] == '\r') n--;
  if (n == 0) { /* a blank line dispatches the block */
    if (c->ev == EV_MESSAGE) {
      if (c->ev_has_stamp) deliver(c, now, c->ev_stamp, TEXT_STAMP_CHARS);
      else bad++;
    } else if (c->ev == EV_SUBSCRIBED && !c->sse_ready) {
      c->sse_ready = 1;
      mark_open(c);
    }
    c->ev = EV_NONE;
    c->ev_has_stamp = 0;
    return;
  }
  if (n >= 6 && memcmp(l, "event:", 6) == 0) {
    const uint8_t *v = l + 6;
    int vn = n - 6;
    if (vn > 0 && *v == ' ') v++, vn--;
    c->ev = vn == 7 && memcmp(v, "message", 7) == 0        ? EV_MESSAGE
            : vn == 10 && memcmp(v, "subscribed", 10) == 0 ? EV_SUBSCRIBED
                                                            : EV_OTHER;
  } else if (n >= 5 && memcmp(l, "data:", 5) == 0) {
    /* the envelope's text: the stamp is its first 32 characters */
    const uint8_t *at = memmem(l, (size_t)n, "\"text\":\"", 8);
    if (at && (l + n) - (at + 8) >= TEXT_STAMP_CHARS) {
      memcpy(c->ev_stamp, at + 8, TEXT_STAMP_CHARS);
      c->ev_has_stamp = 1;
    }
  } /* id:, retry: and comments change nothing the load generator counts */
}

/* Body bytes of a stream, cut into lines; only the first SSE_LINE_BYTES of a line are kept. */
static void sse_text(conn_t *c, const uint8_t *p, size_t n, uint64_t now) {
  while (n > 0) {
    const uint8_t *nl = memchr(p, '\n', n);
    size_t take = nl ? (size_t)(nl - p) : n;
    size_t room = SSE_LINE_BYTES - (size_t)c->line_len;
    size_t k = take < room ? take : room;
    memcpy(c->line + c->line_len, p, k);
    c->line_len += (int)k;
    if (!nl) return;
    sse_line(c, now);
    c->line_len = 0;
    p = nl + 1;
    n -= take + 1;
  }
}

/* Response body bytes of a stream: chunked (RFC 9112 section 7.1) or close-delimited. */
static void sse_body(conn_t *c, const uint8_t *p, size_t n, uint64_t now) {
  if (!c->chunked) {
    sse_text(c, p, n, now);
    return;
  }
  const uint8_t *end = p + n;
  while (p < end) {
    if (c->ch_state == CH_DATA) {
      size_t take = c->ch_left < (uint64_t)(end - p) ? (size_t)c->ch_left : (size_t)(end - p);
      sse_text(c, p, take, now);
      p += take;
      c->ch_left -= take;
      if (c->ch_left == 0) c->ch_state = CH_DATA_END;
      continue;
    }
    uint8_t ch = *p++;
    if (c->ch_state == CH_DATA_END) { /* the CRLF after a chunk's data */
      if (ch == '\n') c->ch_state = CH_SIZE;
    } else if (ch == '\n') { /* end of a size line; a 0 size (last chunk) just reads on until the close */
      c->ch_state = c->ch_left > 0 ? CH_DATA : CH_SIZE;
    } else if (c->ch_state == CH_SIZE) {
      int v = hex_value(ch >= 'A' && ch <= 'F' ? (uint8_t)(ch + 32) : ch);
      if (v >= 0) c->ch_left = c->ch_left * 16 + (uint64_t)v;
      else if (ch == ';') c->ch_state = CH_EXTENSION;
    }
  }
}

static void on_connected(conn_t *c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) {
    errno = err;
    die("connect failed (is the server listening?)");
  }
  char req[512];
  int n = c->sse ? snprintf(req, sizeof req,
                            "GET %s%d/events HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n",
                            opt_sse_prefix, c->channel, opt_host, opt_port)
                 : snprintf(req, sizeof req,
                            "GET %s%d HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                            opt_prefix, c->channel, opt_host, opt_port,
                            opt_deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"
                                        : "");
  out_reserve(c, (size_t)n);
  memcpy(c->out + c->out_len, req, (size_t)n);
  c->out_len += (size_t)n;
  c->state = ST_HANDSHAKE;
  conn_flush(c);
}

static void on_handshake_bytes(conn_t *c, const uint8_t *p, size_t n, uint64_t now) {
  size_t room = sizeof c->hs - 1 - (size_t)c->hs_len;
  size_t k = n < room ? n : room;
  memcpy(c->hs + c->hs_len, p, k);
  c->hs_len += (int)k;
  c->hs[c->hs_len] = 0;
  char *endp = strstr(c->hs, "\r\n\r\n");
  if (!endp) {
    if ((size_t)c->hs_len >= sizeof c->hs - 1) die("handshake response too long");
    return;
  }
  if (strncmp(c->hs, c->sse ? "HTTP/1.1 200" : "HTTP/1.1 101", 12) != 0) {
    char *eol = strstr(c->hs, "\r\n");
    if (eol) *eol = 0;
    fprintf(stderr, "loadgen: %s refused: %s\n", c->sse ? "event stream" : "upgrade", c->hs);
    die(c->sse ? "event stream refused" : "upgrade refused");
  }
  size_t head = (size_t)(endp + 4 - c->hs);
  endp[2] = 0; /* the header checks see the head only */
  if (c->sse) {
    c->chunked = strcasestr(c->hs, "\r\ntransfer-encoding: chunked\r\n") != NULL;
  } else if (opt_deflate && strcasestr(c->hs, "\r\nsec-websocket-extensions: permessage-deflate")) {
    c->deflate = 1;
    deflate_agreed++;
  }
  c->state = ST_OPEN;
  if (!c->sse) mark_open(c);
  /* bytes after the response head are already frames (or the stream's body) */
  size_t consumed_before = (size_t)c->hs_len - k; /* hs bytes from earlier reads */
  if (head < (size_t)c->hs_len && head >= consumed_before) {
    const uint8_t *rest = p + (head - consumed_before);
    size_t rest_len = n - (head - consumed_before);
    if (c->sse) sse_body(c, rest, rest_len, now);
    else parse_frames(c, rest, rest_len, now);
  }
}

static void on_event(conn_t *c, uint32_t events, uint64_t now) {
  if (c->state == ST_CLOSED) return;
  if (c->state == ST_CONNECTING) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
    return;
  }
  if (events & EPOLLOUT) conn_flush(c);
  if (c->state == ST_CLOSED) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    ssize_t n = read(c->fd, rbuf, sizeof rbuf);
    if (n > 0) {
      if (measuring) win_rx_bytes += (uint64_t)n;
      if (c->state == ST_HANDSHAKE) on_handshake_bytes(c, rbuf, (size_t)n, now);
      else if (c->sse) sse_body(c, rbuf, (size_t)n, now);
      else parse_frames(c, rbuf, (size_t)n, now);
    } else if (n == 0) {
      closes++;
      if (c->state == ST_HANDSHAKE) die("server closed during the handshake");
      conn_close(c);
    } else if (errno != EAGAIN && errno != EINTR) {
      errors_count++;
      if (c->state == ST_HANDSHAKE) die("read failed during the handshake");
      conn_close(c);
    }
  }
}

/* ---- main ---- */

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --port P [--host 127.0.0.1] [--path-prefix /ws/bench-] [--channels M]\n"
          "  [--clients K (per channel)] [--publishers P (per channel; default all)] [--size BYTES] [--window W]\n"
          "  [--warmup S] [--duration S] [--rate DELIVERIES_PER_S] [--idle] [--server-pid PID]\n"
          "  [--server-core N] [--client-core N] (report how busy those cores were, for contention checks)\n"
          "  [--text [--json]] [--sse [--sse-prefix /channels/bench-]] [--deflate] (see the header)\n");
  exit(2);
}

/* JSON-like text of exactly `size` bytes (size >= 64): the stamp's string first, then records of quotes whose
   numbers come from a fixed pseudo-random sequence, so that it compresses like real JSON, not like one repeat. */
static void json_payload(uint8_t *out, int size) {
  static const char *SYMBOLS[] = {"ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI", "STARK", "WAYNE", "TYRELL"};
  char rec[256];
  int n = snprintf((char *)out, (size_t)size, "{\"stamp\":\"%032d\",\"items\":[", 0);
  uint32_t r = 12345;
  for (int i = 0;; i++) {
    uint32_t a = r = r * 1103515245u + 12345u, b = r = r * 1103515245u + 12345u;
    int k = snprintf(rec, sizeof rec,
                     "%s{\"id\":%d,\"symbol\":\"%s\",\"bid\":%u.%02u,\"ask\":%u.%02u,\"volume\":%u,\"open\":%s}",
                     i ? "," : "", 1000 + i, SYMBOLS[(a >> 16) & 7], 100 + (a >> 20) % 900, (a >> 8) % 100,
                     100 + (b >> 20) % 900, (b >> 8) % 100, (b >> 4) % 100000, (b >> 3) & 1 ? "true" : "false");
    if (n + k + 2 > size) break;
    memcpy(out + n, rec, (size_t)k);
    n += k;
  }
  while (n < size - 2) out[n++] = ' ';
  out[n++] = ']';
  out[n++] = '}';
}

static void build_template(void) {
  size_t hdr = opt_size <= 125 ? 2 : opt_size <= 65535 ? 4 : 10;
  tmpl_payload_off = hdr + 4;
  tmpl_len = tmpl_payload_off + (size_t)opt_size;
  tmpl = xmalloc(tmpl_len);
  tmpl[0] = 0x80 | (opt_text ? OP_TEXT : OP_BINARY);
  if (hdr == 2) tmpl[1] = 0x80 | (uint8_t)opt_size;
  else if (hdr == 4) {
    tmpl[1] = 0x80 | 126;
    tmpl[2] = (uint8_t)(opt_size >> 8);
    tmpl[3] = (uint8_t)opt_size;
  } else {
    tmpl[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) tmpl[2 + i] = (uint8_t)((uint64_t)opt_size >> (56 - 8 * i));
  }
  memcpy(tmpl + hdr, MASK, 4);
  uint8_t *payload = xmalloc((size_t)opt_size + 1);
  for (int i = 0; i < opt_size; i++) payload[i] = (uint8_t)('a' + i % 26);
  if (opt_json) json_payload(payload, opt_size);
  stamp_off = opt_json ? JSON_STAMP_OFFSET : 0;
  for (int i = 0; i < opt_size; i++) tmpl[tmpl_payload_off + (size_t)i] = payload[i] ^ MASK[i & 3];
  free(payload);
}

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static int wait_ms_until(uint64_t deadline, uint64_t now) {
  if (deadline <= now) return 0;
  uint64_t ms = (deadline - now + 999999) / 1000000;
  return ms > 1000 ? 1000 : (int)ms;
}

static struct epoll_event events[1024];

static void poll_once(int timeout_ms, const struct timespec *ts) {
  int n = ts ? epoll_pwait2(ep, events, 1024, ts, NULL) : epoll_wait(ep, events, 1024, timeout_ms);
  if (n < 0 && errno != EINTR) die("epoll_wait failed");
  /* the receive time is taken per event (a vDSO call), not per batch: a batch can take a while to process */
  for (int i = 0; i < n; i++) on_event(events[i].data.ptr, events[i].events, now_ns());
}

static void flush_dirty(int allow_send) {
  for (int i = 0; i < dirty_count; i++) {
    pub_t *p = dirty_list[i];
    p->dirty = 0;
    conn_t *c = &conns[p->conn];
    if (c->state != ST_OPEN) continue;
    if (allow_send) {
      while (p->queued > 0) { /* open loop: messages due */
        append_message(c, p);
        p->queued--;
      }
      while (opt_rate <= 0 && p->inflight < (uint32_t)opt_window &&
             p->remaining[p->next_seq % (uint32_t)opt_window] == 0) {
        p->remaining[p->next_seq % (uint32_t)opt_window] = (uint32_t)opt_clients;
        p->inflight++;
        append_message(c, p);
      }
    }
    conn_flush(c);
  }
  dirty_count = 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && ++i)
    if (ARG("--host")) opt_host = v;
    else if (ARG("--port")) opt_port = atoi(v);
    else if (ARG("--path-prefix")) opt_prefix = v;
    else if (ARG("--channels")) opt_channels = atoi(v);
    else if (ARG("--clients")) opt_clients = atoi(v);
    else if (ARG("--publishers")) opt_publishers = atoi(v);
    else if (ARG("--size")) opt_size = atoi(v);
    else if (ARG("--window")) opt_window = atoi(v);
    else if (ARG("--warmup")) opt_warmup = atof(v);
    else if (ARG("--duration")) opt_duration = atof(v);
    else if (ARG("--rate")) opt_rate = atof(v);
    else if (ARG("--server-pid")) opt_server_pid = atoi(v);
    else if (ARG("--server-core")) opt_server_core = atoi(v);
    else if (ARG("--client-core")) opt_client_core = atoi(v);
    else if (ARG("--connect-timeout")) opt_connect_timeout = atof(v);
    else if (ARG("--connect-concurrency")) opt_connect_concurrency = atoi(v);
    else if (ARG("--sse-prefix")) opt_sse_prefix = v;
    else if (strcmp(a, "--idle") == 0) opt_idle = 1;
    else if (strcmp(a, "--text") == 0) opt_text = 1;
    else if (strcmp(a, "--json") == 0) opt_text = opt_json = 1;
    else if (strcmp(a, "--sse") == 0) opt_sse = 1;
    else if (strcmp(a, "--deflate") == 0) opt_deflate = 1;
    else usage();
#undef ARG
  }
  if (opt_idle) opt_publishers = 0;
  if (opt_publishers < 0) opt_publishers = opt_clients;
  if (opt_port <= 0 || opt_channels < 1 || opt_clients < 1 || opt_publishers > opt_clients ||
      opt_size < (opt_json ? CAP_BYTES : opt_text ? TEXT_STAMP_CHARS : STAMP_BYTES) || opt_window < 1 ||
      (opt_sse && (!opt_text || opt_json)))
    usage();

  /* one descriptor per client plus slack; the hard limit is the ceiling we may raise to */
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t need = (rlim_t)opt_channels * (rlim_t)opt_clients + 64;
  if (rl.rlim_cur < need) {
    rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  memset(&server_addr, 0, sizeof server_addr);
  server_addr.sin_family = AF_INET;
  server_addr.sin_port = htons((uint16_t)opt_port);
  if (inet_pton(AF_INET, opt_host, &server_addr.sin_addr) != 1) die("--host must be an IPv4 address");

  nconns = opt_channels * opt_clients;
  npubs = opt_channels * opt_publishers;
  conns = xmalloc(sizeof(conn_t) * (size_t)nconns);
  pubs = xmalloc(sizeof(pub_t) * (size_t)(npubs ? npubs : 1));
  dirty_list = xmalloc(sizeof(pub_t *) * (size_t)(npubs ? npubs : 1));
  for (int i = 0; i < nconns; i++) {
    conn_t *c = &conns[i];
    c->fd = -1;
    c->channel = i / opt_clients;
    int local = i % opt_clients;
    c->pub = local < opt_publishers ? c->channel * opt_publishers + local : -1;
    c->hdr_need = 2;
    c->sse = opt_sse && c->pub < 0;
    c->next_seq = xmalloc(sizeof(uint32_t) * (size_t)(opt_publishers ? opt_publishers : 1));
    if (c->pub >= 0) {
      pubs[c->pub].conn = i;
      pubs[c->pub].remaining = xmalloc(sizeof(uint32_t) * (size_t)opt_window);
    }
  }
  lat_fine = xmalloc(sizeof(uint64_t) * LAT_FINE_US);
  lat_coarse = xmalloc(sizeof(uint64_t) * LAT_COARSE_MS);
  build_template();
  if (opt_deflate) {
    if (inflateInit2(&zs, -15) != Z_OK) die("inflateInit2 failed"); /* raw deflate, RFC 7692 section 7.2.2 */
    inflated_cap = (size_t)opt_size + 1024;                            /* room to see a longer message */
    inflated = xmalloc(inflated_cap);
  }
  ep = epoll_create1(EPOLL_CLOEXEC);

  long long rss_before = proc_rss_kib(opt_server_pid);
  uint64_t t_connect = now_ns();
  uint64_t connect_deadline = t_connect + (uint64_t)(opt_connect_timeout * 1e9);
  connect_more();
  while (opened < (uint64_t)nconns && !stop_flag) {
    uint64_t now = now_ns();
    if (now > connect_deadline) die("timed out opening connections");
    poll_once(wait_ms_until(connect_deadline, now), NULL);
    dirty_count = 0; /* pings answered inline; nothing to send yet */
  }
  double connect_ms = (double)(now_ns() - t_connect) / 1e6;

  uint64_t t0 = now_ns();
  uint64_t warm_end = t0 + (uint64_t)(opt_warmup * 1e9);
  uint64_t run_end = warm_end + (uint64_t)(opt_duration * 1e9);
  long long cpu0 = -1, cpu1 = -1, self0 = 0, self1 = 0, rss_after = -1;
  long long score0 = -1, score1 = -1, ccore0 = -1, ccore1 = -1;
  uint64_t tw0 = 0, tw1 = 0;

  if (opt_idle) {
    /* hold: keep answering pings, then read RSS */
    while (!stop_flag) {
      uint64_t now = now_ns();
      if (now >= run_end) break;
      poll_once(wait_ms_until(run_end, now), NULL);
      flush_dirty(0);
    }
    rss_after = proc_rss_kib(opt_server_pid);
    tw0 = t0;
    tw1 = now_ns();
  } else {
    /* open loop schedule: message k is due at t0 + k / msg_rate */
    double msg_rate = opt_rate > 0 ? opt_rate / (double)opt_clients : 0;
    uint64_t scheduled = 0;
    if (opt_rate <= 0) {
      for (int i = 0; i < npubs; i++) mark_dirty(&pubs[i]);
      flush_dirty(1);
    }
    int rr = 0;
    while (!stop_flag) {
      uint64_t now = now_ns();
      if (!measuring && now >= warm_end) {
        measuring = 1;
        cpu0 = proc_cpu_ticks(opt_server_pid);
        score0 = proc_core_busy_ticks(opt_server_core);
        ccore0 = proc_core_busy_ticks(opt_client_core);
        self0 = self_cpu_us();
        tw0 = now;
      }
      if (now >= run_end) {
        cpu1 = proc_cpu_ticks(opt_server_pid);
        score1 = proc_core_busy_ticks(opt_server_core);
        ccore1 = proc_core_busy_ticks(opt_client_core);
        self1 = self_cpu_us();
        tw1 = now;
        break;
      }
      uint64_t next_due = measuring ? run_end : warm_end;
      if (msg_rate > 0 && npubs > 0) {
        uint64_t due = (uint64_t)((double)(now - t0) * msg_rate / 1e9) + 1;
        for (; scheduled < due; scheduled++) {
          pub_t *p = &pubs[rr];
          rr = (rr + 1) % npubs;
          p->queued++;
          mark_dirty(p);
        }
        flush_dirty(1);
        uint64_t at = t0 + (uint64_t)((double)scheduled * 1e9 / msg_rate);
        if (at < next_due) next_due = at;
        struct timespec ts = {0, 0};
        uint64_t now2 = now_ns();
        if (next_due > now2) {
          uint64_t d = next_due - now2;
          ts.tv_sec = (time_t)(d / 1000000000ull);
          ts.tv_nsec = (long)(d % 1000000000ull);
        }
        poll_once(0, &ts);
      } else {
        poll_once(wait_ms_until(next_due, now), NULL);
      }
      flush_dirty(1);
    }
  }

  uint64_t open_at_end = 0;
  for (int i = 0; i < nconns; i++) open_at_end += conns[i].state == ST_OPEN;
  double secs = (double)(tw1 - tw0) / 1e9;
  long clk = sysconf(_SC_CLK_TCK);
  printf("{\"ok\":%s,\"mode\":\"%s\",\"channels\":%d,\"clients_per_channel\":%d,\"publishers_per_channel\":%d,"
         "\"connections\":%d,\"open_at_end\":%llu,\"size\":%d,\"window\":%d,\"rate_target\":%.0f,"
         "\"connect_ms\":%.1f,\"seconds\":%.4f,\"deliveries\":%llu,\"sent\":%llu,\"deliveries_per_s\":%.1f,"
         "\"clk_tck\":%ld,\"server_cpu_ticks\":%lld,\"loadgen_cpu_us\":%lld,"
         "\"server_core_busy_ticks\":%lld,\"client_core_busy_ticks\":%lld,"
         "\"latency_us\":{\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"p999\":%.0f,\"max\":%llu,\"count\":%llu},"
         "\"gaps\":%llu,\"reorders\":%llu,\"bad\":%llu,\"closes\":%llu,\"errors\":%llu,"
         "\"rss_before_kib\":%lld,\"rss_after_kib\":%lld,\"close_code\":%d,\"close_reason\":\"%s\","
         "\"rx_bytes\":%llu,\"compressed\":%llu,\"deflate_agreed\":%llu,\"interrupted\":%s}\n",
         stop_flag ? "false" : "true", opt_idle ? "idle" : opt_rate > 0 ? "rate" : "closed", opt_channels,
         opt_clients, opt_publishers, nconns, (unsigned long long)open_at_end, opt_size, opt_window, opt_rate,
         connect_ms, secs, (unsigned long long)win_deliveries, (unsigned long long)win_sent,
         secs > 0 ? (double)win_deliveries / secs : 0.0, clk, cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1,
         self1 - self0, score0 >= 0 && score1 >= 0 ? score1 - score0 : -1, ccore0 >= 0 && ccore1 >= 0 ? ccore1 - ccore0 : -1,
         lat_percentile(0.5), lat_percentile(0.9), lat_percentile(0.99), lat_percentile(0.999),
         (unsigned long long)lat_max_us, (unsigned long long)lat_count, (unsigned long long)gaps,
         (unsigned long long)reorders, (unsigned long long)bad, (unsigned long long)closes,
         (unsigned long long)errors_count, rss_before, rss_after, first_close_code, first_close_reason,
         (unsigned long long)win_rx_bytes, (unsigned long long)win_compressed, (unsigned long long)deflate_agreed,
         stop_flag ? "true" : "false");
  fflush(stdout);
  return 0;
}
