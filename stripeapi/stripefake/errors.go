package stripefake

import (
	"fmt"
	"net/http"
)

// apiError is the body of a Stripe error response: {"error":{...}}.
type apiError struct {
	status  int
	Type    string `json:"type"`
	Code    string `json:"code,omitempty"`
	Param   string `json:"param,omitempty"`
	Message string `json:"message"`
}

func invalidParam(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, Type: "invalid_request_error",
		Param: param, Message: fmt.Sprintf(format, args...)}
}

// resourceMissing is Stripe's answer for an unknown id: 404 when the id is
// the path, 400 when it is a parameter such as starting_after.
func resourceMissing(status int, param, kind, id string) *apiError {
	return &apiError{status: status, Type: "invalid_request_error", Code: "resource_missing",
		Param: param, Message: fmt.Sprintf("No such %s: '%s'", kind, id)}
}

func (e *apiError) body() []byte {
	return mustMarshal(map[string]*apiError{"error": e})
}
