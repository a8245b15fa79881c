package html

import (
	gohtml "html"
	"strconv"
	"strings"
)

// page builds one HTML document. Everything it writes goes through esc or
// is a literal of this package, so a page refers to nothing outside itself.
type page struct {
	b      strings.Builder
	charts int
}

// StatusAttr is the attribute of <body> the page's script sets to "ok" once
// it has run, or to "error: …" from window.onerror: a browser test reads it.
const StatusAttr = "data-status"

// esc escapes text for HTML (element content and quoted attributes) and
// writes every colon as a character reference: user-supplied text such as
// an endpoint URL reads the same, yet the file never contains a URL scheme
// ("http:"), so nothing in it can name an external resource.
func esc(s string) string {
	s = gohtml.EscapeString(s)
	if strings.IndexByte(s, ':') < 0 {
		return s
	}
	return strings.ReplaceAll(s, ":", "&#58;")
}

// nav writes links to the page's sections: pairs of id and title.
func (p *page) nav(links ...[2]string) {
	p.b.WriteString(`<nav>`)
	for _, l := range links {
		p.b.WriteString(`<a href="#` + esc(l[0]) + `">` + esc(l[1]) + `</a>`)
	}
	p.b.WriteString(`</nav>`)
}

func newPage(title, subtitle string) *page {
	p := &page{}
	p.b.Grow(256 << 10)
	p.b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
		"<meta name=\"generator\" content=\"inferbench\"><title>")
	p.b.WriteString(esc(title))
	p.b.WriteString("</title><style>")
	p.b.WriteString(css)
	p.b.WriteString("</style></head>\n<body " + StatusAttr + "=\"loading\"><script>")
	p.b.WriteString(jsHead)
	p.b.WriteString("</script><header><h1>")
	p.b.WriteString(esc(title))
	p.b.WriteString("</h1>")
	if subtitle != "" {
		p.b.WriteString(`<p class="sub">` + esc(subtitle) + `</p>`)
	}
	p.b.WriteString("</header><main>\n")
	return p
}

// section opens a section with a heading and an optional explanation.
func (p *page) section(id, title, explain string) {
	p.b.WriteString(`<section id="` + esc(id) + `"><h2>` + esc(title) + `</h2>`)
	if explain != "" {
		p.b.WriteString(`<p class="explain">` + esc(explain) + `</p>`)
	}
}

func (p *page) end() { p.b.WriteString("</section>\n") }

// raw writes trusted markup (literals of this package).
func (p *page) raw(s string) { p.b.WriteString(s) }

// para writes an escaped paragraph with a class.
func (p *page) para(class, s string) {
	p.b.WriteString(`<p class="` + class + `">` + esc(s) + `</p>`)
}

func (p *page) chart(c *chart) {
	p.charts++
	c.render(&p.b, p.charts)
}

// grid wraps charts side by side on a wide screen.
func (p *page) grid(cs ...*chart) {
	p.b.WriteString(`<div class="charts">`)
	for _, c := range cs {
		if c != nil {
			p.chart(c)
		}
	}
	p.b.WriteString(`</div>`)
}

// card is one summary figure.
type card struct {
	Label, Value, Note string
	Bad                bool
}

func (p *page) cards(cs []card) {
	p.b.WriteString(`<div class="cards">`)
	for _, c := range cs {
		cls := "card"
		if c.Bad {
			cls += " bad"
		}
		p.b.WriteString(`<div class="` + cls + `"><div class="v">` + esc(c.Value) + `</div><div class="l">` + esc(c.Label) + `</div>`)
		if c.Note != "" {
			p.b.WriteString(`<div class="n">` + esc(c.Note) + `</div>`)
		}
		p.b.WriteString(`</div>`)
	}
	p.b.WriteString(`</div>`)
}

// cell is one table cell: text, a class (num, pass, fail, dim), and a
// hover title.
type cell struct {
	Text, Class, Title string
	// Sort is the value a sortable column sorts by ("" sorts by Text).
	Sort string
	// Href links the text to a page beside this one: a relative path of
	// plain name characters (safeHref), never a URL.
	Href string
}

// safeHref reports whether a relative link may be written: path segments
// of letters, digits, '.', '_' and '-', no "..", no scheme, no leading "/".
func safeHref(h string) bool {
	if h == "" || strings.HasPrefix(h, "/") {
		return false
	}
	for _, seg := range strings.Split(h, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				return false
			}
		}
	}
	return true
}

func txt(s string) cell    { return cell{Text: s} }
func cn(v float64) cell    { return cell{Text: fmtNum(v), Class: "num", Sort: sortKey(v)} }
func cls(s, k string) cell { return cell{Text: s, Class: k} }
func sortKey(v float64) string {
	if !finite(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// table writes a table; sortable tables sort by a click on a heading.
func (p *page) table(head []string, rows [][]cell, sortable bool) {
	p.b.WriteString(`<div class="tw"><table`)
	if sortable {
		p.b.WriteString(` class="sortable"`)
	}
	p.b.WriteString(`><thead><tr>`)
	for _, h := range head {
		p.b.WriteString(`<th>` + esc(h) + `</th>`)
	}
	p.b.WriteString(`</tr></thead><tbody>`)
	for _, r := range rows {
		p.b.WriteString(`<tr>`)
		for _, x := range r {
			p.b.WriteString(`<td`)
			if x.Class != "" {
				p.b.WriteString(` class="` + esc(x.Class) + `"`)
			}
			if x.Title != "" {
				p.b.WriteString(` title="` + esc(x.Title) + `"`)
			}
			if x.Sort != "" {
				p.b.WriteString(` data-sort="` + esc(x.Sort) + `"`)
			}
			if safeHref(x.Href) {
				p.b.WriteString(`><a href="` + esc(x.Href) + `">` + esc(x.Text) + `</a></td>`)
			} else {
				p.b.WriteString(`>` + esc(x.Text) + `</td>`)
			}
		}
		p.b.WriteString(`</tr>`)
	}
	p.b.WriteString(`</tbody></table></div>`)
}

// kv writes a two-column description list.
func (p *page) kv(pairs [][2]string) {
	p.b.WriteString(`<dl class="kv">`)
	for _, kv := range pairs {
		if kv[1] == "" {
			continue
		}
		p.b.WriteString(`<dt>` + esc(kv[0]) + `</dt><dd>` + esc(kv[1]) + `</dd>`)
	}
	p.b.WriteString(`</dl>`)
}

// warnings writes a warning box; none writes nothing.
func (p *page) warnings(ws []string) {
	if len(ws) == 0 {
		return
	}
	p.b.WriteString(`<div class="warn"><strong>Warnings</strong><ul>`)
	for _, w := range ws {
		p.b.WriteString(`<li>` + esc(w) + `</li>`)
	}
	p.b.WriteString(`</ul></div>`)
}

// finish closes the document: the footer, then the script that marks the
// page as rendered.
func (p *page) finish(footer string) []byte {
	p.b.WriteString("</main><footer>")
	p.b.WriteString(esc(footer))
	p.b.WriteString("</footer><script>")
	p.b.WriteString(jsTail)
	p.b.WriteString("</script></body></html>\n")
	return []byte(p.b.String())
}

// glossary explains the terms for a reader new to inferbench.
func glossary(p *page) {
	p.section("glossary", "Reading this report", "")
	p.kv([][2]string{
		{"TTFT", "time to first token: from sending the request to receiving the first generated token. What a user waits before text appears."},
		{"TPOT", "time per output token after the first: (end − first chunk) ÷ the output tokens after the first chunk, one value per request. The streaming speed a user sees."},
		{"Inter-chunk latency", "the gap between two consecutive streamed chunks of one request (pooled over all requests): stalls show here."},
		{"Latency", "from sending the request to the last byte of the response."},
		{"ISL / OSL", "input / output sequence length, in tokens."},
		{"QPS / TPS", "successful requests / output tokens per second over the measured window."},
		{"Goodput", "requests per second that succeeded and met every per-request bound of the goodput rule (e.g. ttft<=200ms,tpot<=50ms)."},
		{"Percentile pN", "the value N% of requests stay at or below; exact order statistics here, never interpolated."},
		{"95% CI", "a distribution-free 95% confidence interval of a percentile (from order statistics): how much the percentile could move from sampling noise alone."},
		{"Scheduler lateness", "how late the load generator issued requests compared with its schedule: large values mean the load asked for was not delivered."},
	})
	p.end()
}

// css is the page's whole style: system fonts only (nothing fetched),
// light and dark, and a print layout.
const css = `:root{--bg:#fff;--fg:#1b1f24;--dim:#57606a;--line:#d0d7de;--card:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--warnbg:#fff8c5;
--c0:#0969da;--c1:#cf222e;--c2:#1a7f37;--c3:#8250df;--c4:#bf8700;--c5:#1b7c83;--c6:#e16f24;--c7:#6e7781}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--dim:#8d96a0;--line:#30363d;--card:#161b22;--ok:#3fb950;--bad:#f85149;--warnbg:#3b2e00;
--c0:#4493f8;--c1:#f85149;--c2:#3fb950;--c3:#a371f7;--c4:#d29922;--c5:#39c5cf;--c6:#f0883e;--c7:#9198a1}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:1280px;margin:0 auto;padding:0 20px}header{padding-top:16px}h1{font-size:22px;margin:8px 0 2px}
h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:18px 0 4px}
.sub,.explain,footer,.empty,.dim{color:var(--dim)}.explain{margin:2px 0 10px;max-width:900px}footer{padding:24px 20px;font-size:12px}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:8px 0}.kv dt{color:var(--dim)}.kv dd{margin:0;overflow-wrap:anywhere}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:150px}
.card .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}.card .l{color:var(--dim)}.card .n{font-size:12px;color:var(--dim)}
.card.bad{border-color:var(--bad)}.card.bad .v{color:var(--bad)}
.warn{background:var(--warnbg);border:1px solid var(--c4);border-radius:8px;padding:8px 14px;margin:10px 0}.warn ul{margin:4px 0;padding-left:20px}
.verdict{display:inline-block;font-weight:700;padding:2px 10px;border-radius:6px;color:#fff}.verdict.pass{background:var(--ok)}.verdict.fail{background:var(--bad)}
.tw{overflow-x:auto}table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;white-space:nowrap}
th{background:var(--card);position:sticky;top:0}td.num{text-align:right}td.pass{color:var(--ok);font-weight:600}td.fail{color:var(--bad);font-weight:600}td.dim{color:var(--dim)}
table.sortable th{cursor:pointer}table.sortable th:after{content:" \2195";color:var(--dim);font-size:11px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:12px}
figure.chart{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px}figcaption{font-weight:600;margin:0 0 2px 4px}
svg{width:100%;height:auto;display:block}svg text{fill:var(--dim);font-size:11px}svg .ylabel{font-size:12px}
.grid line{stroke:var(--line);stroke-width:1}.frame{fill:none;stroke:var(--line)}.bar{fill:var(--c0);opacity:.75}.bar:hover{opacity:1}
.curve{fill:none;stroke-width:2;stroke-linejoin:round}.curve.dash{stroke-dasharray:6 4}.ref{stroke:var(--dim);stroke-width:1.5;stroke-dasharray:4 3}.ref.warn{stroke:var(--bad)}
.diag{stroke:var(--dim);stroke-dasharray:2 4}circle:hover{r:6}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin:2px 6px}.legend .sw{display:inline-block;width:18px;border-top:3px solid;margin-right:5px;vertical-align:middle}.legend .sw.dash{border-top-style:dashed}
.bars td.barc{width:50%}.hbar{height:10px;background:var(--c1);border-radius:2px}.hbar.ok{background:var(--c0)}
nav{display:flex;flex-wrap:wrap;gap:4px 16px;margin:8px 0 0}a{color:var(--c0);text-decoration:none}a:hover{text-decoration:underline}
details{margin:6px 0}summary{cursor:pointer;color:var(--dim)}
@media print{.charts{grid-template-columns:1fr 1fr}figure.chart{break-inside:avoid}th{position:static}}`

// jsHead records the first script error on <body>, for the reader (a red
// note) and for a browser test.
const jsHead = `window.onerror=function(m){document.body.setAttribute("` + StatusAttr + `","error: "+m);var d=document.createElement("p");d.className="warn";d.textContent="Script error: "+m;document.body.prepend(d);};`

// jsTail makes tables sortable by a click on a heading, then marks the
// page rendered. The page reads fully without it.
const jsTail = `(function(){
function key(td){var s=td.getAttribute("data-sort");if(s!==null&&s!==""){return {n:parseFloat(s)}}var t=td.textContent.trim();var f=parseFloat(t);return isNaN(f)||!/^[-+0-9.]/.test(t)?{s:t}:{n:f}}
function cmp(a,b){if(a.n!==undefined&&b.n!==undefined){return a.n-b.n}if(a.n!==undefined){return -1}if(b.n!==undefined){return 1}return a.s<b.s?-1:a.s>b.s?1:0}
document.querySelectorAll("table.sortable").forEach(function(t){
t.querySelectorAll("th").forEach(function(th,i){var asc=true;th.addEventListener("click",function(){
var tb=t.tBodies[0];var rows=Array.prototype.slice.call(tb.rows);
rows.sort(function(x,y){var r=cmp(key(x.cells[i]),key(y.cells[i]));return asc?r:-r});asc=!asc;
rows.forEach(function(r){tb.appendChild(r)});});});});
if(document.body.getAttribute("` + StatusAttr + `")==="loading"){document.body.setAttribute("` + StatusAttr + `","ok");}
})();`
