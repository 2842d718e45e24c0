package cli

import (
	"fmt"
	"net/url"
)

// normalizeBaseURL checks a server URL given to --url or LIBRATO_URL. The library's WithBaseURL
// makes a URL with no path (what `librato serve` prints) the API root, /v1/.
func normalizeBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		return "", fmt.Errorf("API URL must not contain credentials; use --user/--token")
	}
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		// Not quoted: a mistyped URL may still carry a token in its userinfo or query.
		return "", fmt.Errorf("API URL is not an absolute http(s) URL such as https://metrics-api.librato.com")
	}
	return u.String(), nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
