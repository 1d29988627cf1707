package e2e

import (
	"encoding/json"
	"io"
	"net/http"
)

func jsonDecode(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
