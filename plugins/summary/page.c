/* The status page at GET / of the admin listener: one self-contained HTML page (inline style and
 * script, no external resource) that draws the summary's history as an SVG chart and shows the
 * drives, parents and top hosts, refreshing itself every report period. */
#include <string.h>

#include "summary.h"

static const char page_head[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>mcc status</title>\n"
    "<style>\n"
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}\n"
    "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}\n"
    "table{border-collapse:collapse;background:#fff}\n"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}\n"
    "th{background:#eee}td.l,th.l{text-align:left}td.l{max-width:24em;overflow-wrap:anywhere}\n"
    ".muted{color:#777}.up{color:#1a7f37}.down{color:#c62828;font-weight:bold}\n"
    ".bar{display:inline-block;width:10em;height:.8em;background:#e5e5e5;vertical-align:middle}\n"
    ".bar span{display:block;height:100%;background:#4a7bd0}\n"
    "svg{background:#fff;border:1px solid #ccc}\n"
    ".hit{fill:#2e9e5b}.miss{fill:#e8913a}.ratio{fill:none;stroke:#2344a8;stroke-width:2}\n"
    "</style></head>\n";

static const char page_body[] =
    "<h1>mcc status <span class=\"muted\" id=\"node\"></span></h1>\n"
    "<div class=\"muted\">updated <span id=\"updated\">never</span>"
    " &middot; version <span id=\"version\"></span>"
    " &middot; up <span id=\"uptime\"></span></div>\n"
    "<h2>Traffic</h2>\n"
    "<table><tr><th class=\"l\"></th><th>hit bytes</th><th>miss bytes</th><th>egress bytes</th>"
    "<th>hit ratio</th><th>requests</th></tr>\n"
    "<tr><td class=\"l\">lifetime</td><td id=\"life-hit\">-</td><td id=\"life-miss\">-</td>"
    "<td id=\"life-egress\">-</td><td id=\"life-ratio\">-</td><td "
    "id=\"life-requests\">-</td></tr>\n"
    "<tr><td class=\"l\">last period, per second</td><td id=\"period-hit\">-</td>"
    "<td id=\"period-miss\">-</td><td id=\"period-egress\">-</td><td id=\"period-ratio\">-</td>"
    "<td id=\"period-requests\">-</td></tr></table>\n"
    "<div class=\"muted\">lifetime: <span id=\"life-human\"></span>; period ending "
    "<span id=\"period-end\">-</span> (<span id=\"period-seconds\">-</span> s)</div>\n"
    "<h2>Last hour</h2>\n"
    "<svg id=\"chart\" width=\"720\" height=\"220\" viewBox=\"0 0 720 220\" role=\"img\" "
    "aria-label=\"hit and miss bytes per second and hit ratio\"></svg>\n"
    "<div class=\"muted\"><svg width=\"10\" height=\"10\"><rect class=\"hit\" width=\"10\" "
    "height=\"10\"/></svg> hit bytes/s <svg width=\"10\" height=\"10\"><rect class=\"miss\" "
    "width=\"10\" height=\"10\"/></svg> miss bytes/s &mdash; line: hit ratio (0..1, right axis)"
    " &middot; peak <span id=\"chart-peak\">0</span> B/s over <span id=\"chart-periods\">0</span>"
    " periods</div>\n"
    "<h2>Drives</h2>\n"
    "<table id=\"drives\"><tr><th class=\"l\">drive</th><th>used bytes</th><th>capacity bytes</th>"
    "<th>use</th><th>objects</th><th>evictions</th><th>writable</th></tr></table>\n"
    "<h2>Parents</h2>\n"
    "<table id=\"parents\"><tr><th class=\"l\">upstream</th><th class=\"l\">parent</th>"
    "<th class=\"l\">state</th></tr></table>\n"
    "<div class=\"muted\" id=\"parents-none\">no parent cache configured</div>\n"
    "<h2>Top hosts by bytes sent</h2>\n"
    "<table id=\"hosts\"><tr><th class=\"l\">host</th><th>egress bytes</th><th>hit bytes</th>"
    "<th>miss bytes</th><th>requests</th></tr></table>\n"
    "<div class=\"muted\" id=\"error\"></div>\n";

/* The script fetches the JSON routes (below the configured summary route, with the page's own
 * apiKey when it was opened with one) and redraws; textContent only, never HTML from data. */
static const char page_script[] =
    "<script>\n"
    "'use strict';\n"
    "const base = document.body.dataset.route;\n"
    "const key = new URLSearchParams(location.search).get('apiKey');\n"
    "const sub = p => (base === '/' ? '' : base) + p;\n"
    "const url = p => p + (key ? '?apiKey=' + encodeURIComponent(key) : '');\n"
    "const $ = id => document.getElementById(id);\n"
    "const set = (id, v) => { $(id).textContent = String(v); };\n"
    "function human(b) {\n"
    "  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0;\n"
    "  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }\n"
    "  return (i ? b.toFixed(1) : String(Math.round(b))) + ' ' + u[i];\n"
    "}\n"
    "function row(table, cells, cls) {\n"
    "  const tr = document.createElement('tr');\n"
    "  cells.forEach((c, i) => {\n"
    "    const td = document.createElement('td');\n"
    "    if (c instanceof Node) td.appendChild(c); else td.textContent = String(c);\n"
    "    if (cls && cls[i]) td.className = cls[i];\n"
    "    tr.appendChild(td);\n"
    "  });\n"
    "  table.appendChild(tr);\n"
    "}\n"
    "function clear(table) { while (table.rows.length > 1) table.deleteRow(1); }\n"
    "const NS = 'http://www.w3.org/2000/svg';\n"
    "function el(name, attrs, text) {\n"
    "  const e = document.createElementNS(NS, name);\n"
    "  for (const k in attrs) e.setAttribute(k, attrs[k]);\n"
    "  if (text !== undefined) e.textContent = text;\n"
    "  return e;\n"
    "}\n"
    "function chart(h) {\n"
    "  const svg = $('chart'); while (svg.firstChild) svg.removeChild(svg.firstChild);\n"
    "  const W = 720, H = 220, L = 70, R = 40, T = 10, B = 25, n = h.capacity || 240;\n"
    "  const ps = h.periods, w = (W - L - R) / n;\n"
    "  let peak = 0;\n"
    "  ps.forEach(p => { peak = Math.max(peak, (p.hitBytes + p.missBytes) / (p.seconds || 1)); "
    "});\n"
    "  const top = peak > 0 ? peak : 1, y = v => T + (H - T - B) * (1 - v / top);\n"
    "  svg.appendChild(el('line', {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#999'}));\n"
    "  svg.appendChild(el('text', {x: L - 4, y: T + 10, 'text-anchor': 'end', 'font-size': 11},\n"
    "                     human(top) + '/s'));\n"
    "  svg.appendChild(el('text', {x: L - 4, y: H - B, 'text-anchor': 'end', 'font-size': 11},\n"
    "                     '0'));\n"
    "  svg.appendChild(el('text', {x: W - R + 4, y: T + 10, 'font-size': 11}, '1'));\n"
    "  svg.appendChild(el('text', {x: W - R + 4, y: H - B, 'font-size': 11}, '0'));\n"
    "  svg.appendChild(el('text', {x: L, y: H - 6, 'font-size': 11}, '-' + Math.round(n *\n"
    "                     (ps.length ? ps[ps.length - 1].seconds : 15) / 60) + ' min'));\n"
    "  svg.appendChild(el('text', {x: W - R, y: H - 6, 'text-anchor': 'end', 'font-size': 11},\n"
    "                     'now'));\n"
    "  const pts = [];\n"
    "  ps.forEach((p, i) => {\n"
    "    const x = L + (n - ps.length + i) * w, s = p.seconds || 1;\n"
    "    const hit = p.hitBytes / s, miss = p.missBytes / s;\n"
    "    svg.appendChild(el('rect', {class: 'hit', x: x, width: Math.max(w - 0.5, 0.5),\n"
    "                                y: y(hit), height: H - B - y(hit)}));\n"
    "    svg.appendChild(el('rect', {class: 'miss', x: x, width: Math.max(w - 0.5, 0.5),\n"
    "                                y: y(hit + miss), height: y(hit) - y(hit + miss)}));\n"
    "    if (hit + miss > 0)  /* an idle period has no ratio to draw */\n"
    "      pts.push((x + w / 2).toFixed(1) + ',' +\n"
    "               (T + (H - T - B) * (1 - p.hitRatioBytes)).toFixed(1));\n"
    "  });\n"
    "  if (pts.length) svg.appendChild(el('polyline', {class: 'ratio', points: pts.join(' ')}));\n"
    "  set('chart-peak', Math.round(peak)); set('chart-periods', ps.length);\n"
    "}\n"
    "function status(st) {\n"
    "  set('version', st.version); set('uptime', st.uptimeSeconds + ' s');\n"
    "  const d = $('drives'); clear(d);\n"
    "  st.drives.forEach(x => {\n"
    "    const bar = document.createElement('span'); bar.className = 'bar';\n"
    "    const fill = document.createElement('span');\n"
    "    const pct = x.capacityBytes ? 100 * x.usedBytes / x.capacityBytes : 0;\n"
    "    fill.style.width = Math.min(100, pct).toFixed(1) + '%'; bar.appendChild(fill);\n"
    "    const use = document.createElement('span');\n"
    "    use.append(bar, ' ' + pct.toFixed(1) + ' %');\n"
    "    row(d, [x.name, x.usedBytes, x.capacityBytes, use, x.objects, x.evictions || 0,\n"
    "            x.writable === false ? 'no' : 'yes'], ['l']);\n"
    "  });\n"
    "  const p = $('parents'); clear(p);\n"
    "  st.parents.forEach(x => row(p, [x.upstream, x.parent, x.up ? 'up' : 'down'],\n"
    "                              ['l', 'l', x.up ? 'l up' : 'l down']));\n"
    "  $('parents-none').style.display = st.parents.length ? 'none' : '';\n"
    "  const t = $('hosts'); clear(t);\n"
    "  st.topHosts.forEach(x => row(t, [x.host, x.egressBytes, x.hitBytes, x.missBytes,\n"
    "                                   x.requests], ['l']));\n"
    "}\n"
    "function summary(s) {\n"
    "  set('node', s.nodeId);\n"
    "  const l = s.lifetime, p = s.period;\n"
    "  set('life-hit', l.hitBytes); set('life-miss', l.missBytes);\n"
    "  set('life-egress', l.egressBytes); set('life-ratio', l.hitRatioBytes);\n"
    "  set('life-requests', l.requests);\n"
    "  set('life-human', human(l.hitBytes) + ' hit, ' + human(l.missBytes) + ' miss, ' +\n"
    "      (100 * l.hitRatioBytes).toFixed(2) + ' % hit ratio');\n"
    "  set('period-hit', p.hitBytes); set('period-miss', p.missBytes);\n"
    "  set('period-egress', p.egressBytes); set('period-ratio', p.hitRatioBytes);\n"
    "  set('period-requests', p.requests); set('period-end', p.end || '-');\n"
    "  set('period-seconds', p.seconds);\n"
    "  return p.seconds;\n"
    "}\n"
    "async function get(p) {\n"
    "  const r = await fetch(url(p), {cache: 'no-store'});\n"
    "  if (!r.ok) throw new Error(p + ': HTTP ' + r.status);\n"
    "  return r.json();\n"
    "}\n"
    "let period = 15;\n"
    "async function load() {\n"
    "  try {\n"
    "    const [s, h, st] = await Promise.all([get(base), get(sub('/history')),\n"
    "                                         get(sub('/status'))]);\n"
    "    period = summary(s) || period; chart(h); status(st);\n"
    "    set('updated', new Date().toISOString()); set('error', '');\n"
    "  } catch (e) { set('error', 'cannot load: ' + e.message); }\n"
    "  setTimeout(load, Math.max(2, Math.min(period, 60)) * 1000);\n"
    "}\n"
    "load();\n"
    "</script>\n"
    "</body></html>\n";

/* Writes S HTML-escaped: the route comes from configuration. */
static void page_escaped(summary *s, mcc_reply *reply, const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        switch (*p) {
        case '&':
            s->host->reply_append(reply, "&amp;", 5);
            break;
        case '<':
            s->host->reply_append(reply, "&lt;", 4);
            break;
        case '>':
            s->host->reply_append(reply, "&gt;", 4);
            break;
        case '"':
            s->host->reply_append(reply, "&quot;", 6);
            break;
        case '\'':
            s->host->reply_append(reply, "&#39;", 5);
            break;
        default:
            s->host->reply_append(reply, p, 1);
            break;
        }
    }
}

int summary_page_route(void *arg, const mcc_admin_request *req, mcc_reply *reply)
{
    summary *s = arg;
    const mcc_host *h = s->host;
    h->reply_status(reply, 200, "text/html; charset=utf-8");
    /* everything is inline; nothing may be loaded from elsewhere */
    h->reply_header(reply, "Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    "connect-src 'self'; img-src data:");
    h->reply_append(reply, page_head, sizeof(page_head) - 1);
    h->reply_append(reply, "<body data-route=\"", 18);
    page_escaped(s, reply, s->route);
    h->reply_append(reply, "\">\n", 3);
    h->reply_append(reply, page_body, sizeof(page_body) - 1);
    h->reply_append(reply, page_script, sizeof(page_script) - 1);
    return MCC_OK;
}
