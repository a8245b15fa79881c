package html

import (
	"fmt"
	"regexp"
	"strings"
)

// The rules of CheckSelfContained.
var (
	schemeRe = regexp.MustCompile(`(?i)\b(https?|ftp|wss?|file):`)
	srcRe    = regexp.MustCompile(`(?i)\s(src|srcset|data|poster|action|formaction|xlink:href|ping)\s*=`)
	hrefRe   = regexp.MustCompile(`(?i)\shref\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	urlRe    = regexp.MustCompile(`(?i)url\s*\(\s*['"]?([^)'"]*)`)
	importRe = regexp.MustCompile(`(?i)@import|<link\b|<iframe\b|<object\b|<embed\b|<img\b|<base\b`)
	// tagRe finds the page's tags: escaped text holds no "<", so
	// attributes can only be inside these.
	tagRe = regexp.MustCompile(`<[a-zA-Z][^>]*>`)
)

// CheckSelfContained reports the first way a page could refer to a
// resource outside itself. It is strict: the page's bytes may not contain a
// URL scheme at all (http:, https:, ftp:, ws:, wss:, file:, in any case), so
// user text such as an endpoint is written with its colons as &#58; (a
// browser shows ":"; it is text, and text loads nothing); no src=, srcset=,
// data=, poster=, action= or xlink:href= attribute; no <link>, <img>,
// <iframe>, <object>, <embed>, <base> or @import; url(...) only to a
// fragment (#id, the charts' clip paths); and href= only to a fragment or a
// relative path without a scheme or a leading "//".
func CheckSelfContained(page []byte) error {
	s := string(page)
	if m := schemeRe.FindString(s); m != "" {
		return fmt.Errorf("html: a URL scheme %q in the page", m)
	}
	tags := strings.Join(tagRe.FindAllString(s, -1), "\n")
	if m := srcRe.FindString(tags); m != "" {
		return fmt.Errorf("html: a resource attribute %q", strings.TrimSpace(m))
	}
	if m := importRe.FindString(s); m != "" {
		return fmt.Errorf("html: %q refers to a resource", m)
	}
	for _, m := range urlRe.FindAllStringSubmatch(s, -1) {
		if !strings.HasPrefix(strings.TrimSpace(m[1]), "#") {
			return fmt.Errorf("html: url(%s) is not a fragment", m[1])
		}
	}
	for _, m := range hrefRe.FindAllStringSubmatch(tags, -1) {
		v := strings.Trim(m[1], `"'`)
		if strings.Contains(v, ":") || strings.Contains(v, "&#") || strings.HasPrefix(v, "//") || strings.HasPrefix(v, `\\`) {
			return fmt.Errorf("html: href=%s leaves the page", m[1])
		}
	}
	return nil
}
