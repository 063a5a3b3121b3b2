package handlers

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"paydesk/store"
	"paydesk/stripeapi"
	"paydesk/views"
)

// CustomerWriter creates and changes customers on Stripe:
// *stripeapi.Customers.
type CustomerWriter interface {
	// CreateRecord and UpdateRecord return Stripe's answer as a mirror row
	// at the version of the second the request was sent, and Stripe's
	// request id.
	CreateRecord(ctx context.Context, idempotencyKey string, p stripeapi.CustomerParams) (store.Customer, string, error)
	UpdateRecord(ctx context.Context, idempotencyKey, id string, p stripeapi.CustomerParams) (store.Customer, string, error)
}

const (
	customerCreateAction = "customer.create"
	customerUpdateAction = "customer.update"
	// customerNewTarget names a customer not made yet in stripe_actions
	// and the audit log; the result holds the id Stripe gave it.
	customerNewTarget = "customer:new"
)

// Stripe's limits on a customer's fields (characters) and metadata.
const (
	maxCustomerName        = 256
	maxCustomerEmail       = 512
	maxCustomerPhone       = 20
	maxCustomerDescription = 5000
	maxMetadataKeys        = 50
	maxMetadataKey         = 40
	maxMetadataValue       = 500
	// blankMetadataRows are the empty rows a form offers for new pairs.
	blankMetadataRows = 3
)

// newCustomerKey is a new-customer form's idempotency key: a nonce made
// when the form is rendered, so a double click, a browser retry or the same
// form in two tabs make one customer, while each new form makes its own.
var newCustomerKey = regexp.MustCompile(`^paydesk-customer-new-[0-9a-f]{32}$`)

func makeNewCustomerKey() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails: crypto/rand aborts the process instead
	return "paydesk-customer-new-" + hex.EncodeToString(b)
}

// customerState is what an edit form is bound to: the customer's version
// and the values the form was made from. A form made from another state is
// stale.
func customerState(c store.Customer) string {
	meta, _ := json.Marshal(customerMetadata(c))
	h := sha256.New()
	for _, v := range []string{c.ID, strconv.FormatInt(c.Version, 10), deref(c.Name), deref(c.Email), deref(c.Phone),
		deref(c.Description), string(meta)} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// customerUpdateKey is the idempotency key of an edit: the state the form
// was made from and the values sent (not the changes they make, which
// vanish once made: a retry must find the first request's key). The same form sent twice (a double
// click, a retry, two tabs with the same values) is one request; two tabs
// with different values are two requests, and the second is refused as
// stale once the first changed the customer.
func customerUpdateKey(id, state string, f views.CustomerForm, pairs map[string]string) string {
	body, _ := json.Marshal([]any{f.Name, f.Email, f.Phone, f.Description, pairs})
	h := sha256.Sum256([]byte(id + "\x00" + state + "\x00" + string(body)))
	return "paydesk-customer-update-" + id + "-" + hex.EncodeToString(h[:12])
}

// newCustomerForm shows the form that creates a customer
// (GET /customers/new).
func (s *Server) newCustomerForm(w http.ResponseWriter, r *http.Request) {
	f := s.blankCustomerForm()
	s.renderCustomerForm(w, r, http.StatusOK, f)
}

func (s *Server) blankCustomerForm() views.CustomerForm {
	f := views.CustomerForm{New: true, Action: "/customers", Key: makeNewCustomerKey(), Errors: map[string]string{}}
	f.Metadata = withBlankRows(nil)
	if s.customers == nil || s.actions == nil {
		f.Unavailable = "Customers cannot be created here: paydesk has no Stripe key configured."
	}
	return f
}

// createCustomer makes a customer on Stripe (POST /customers).
func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	f := s.blankCustomerForm()
	f.Key = r.PostForm.Get("key")
	readCustomerForm(&f, r.PostForm)
	if !newCustomerKey.MatchString(f.Key) {
		s.renderError(w, r, http.StatusBadRequest, "The form could not be read; open the new-customer form again.")
		return
	}
	if f.Unavailable != "" {
		s.renderCustomerForm(w, r, http.StatusConflict, f)
		return
	}
	// A form already sent is answered with what became of it.
	// One Stripe refused is sent again (the key is free once failed).
	if out, found, err := s.priorAction(r, f.Key, customerCreateAction, customerNewTarget, true); err != nil {
		s.serverError(w, r, "cannot read a customer request", err)
		return
	} else if found {
		s.customerOutcome(w, r, f, out)
		return
	}
	pairs := checkCustomerForm(&f)
	if f.Name == "" && f.Email == "" && f.Errors["name"] == "" && f.Errors["email"] == "" {
		f.Errors["name"] = "Give at least a name or an email."
	}
	if len(f.Errors) > 0 {
		s.renderCustomerForm(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	p := stripeapi.CustomerParams{Name: optionalText(f.Name), Email: optionalText(f.Email), Phone: optionalText(f.Phone),
		Description: optionalText(f.Description)}
	params := map[string]any{}
	for _, field := range []struct {
		name  string
		value *string
	}{{"name", p.Name}, {"email", p.Email}, {"phone", p.Phone}, {"description", p.Description}} {
		if field.value != nil {
			params[field.name] = map[string]any{"before": nil, "after": *field.value}
		}
	}
	if len(pairs) > 0 {
		p.Metadata = pairs
		params["metadata"] = map[string]any{"before": nil, "after": pairs}
	}
	out, err := s.runStripeAction(r, stripeAction{Key: f.Key, Action: customerCreateAction, Target: customerNewTarget,
		Params: params, Refusals: customerRefusals,
		Call: func(ctx context.Context) (string, string, func(context.Context, *store.Store) error, error) {
			c, requestID, err := s.customers.CreateRecord(ctx, f.Key, p)
			if err != nil {
				return "", requestID, nil, err
			}
			return c.ID, requestID, func(ctx context.Context, tx *store.Store) error {
				return tx.WriteThroughCustomer(ctx, c)
			}, nil
		}})
	if err != nil {
		s.actionFailed(w, r, err)
		return
	}
	s.customerOutcome(w, r, f, out)
}

// editCustomerForm shows the form that edits a customer
// (GET /customers/{id}/edit).
func (s *Server) editCustomerForm(w http.ResponseWriter, r *http.Request) {
	c, ok := s.editedCustomer(w, r)
	if !ok {
		return
	}
	s.renderCustomerForm(w, r, http.StatusOK, s.currentCustomerForm(c))
}

// currentCustomerForm is the edit form of c filled with its values now.
func (s *Server) currentCustomerForm(c store.Customer) views.CustomerForm {
	f := views.CustomerForm{ID: c.ID, URL: objectURL("customers", c.ID), Action: objectURL("customers", c.ID),
		Key: customerState(c), Name: deref(c.Name), Email: deref(c.Email), Phone: deref(c.Phone),
		Description: deref(c.Description), Errors: map[string]string{}}
	meta := customerMetadata(c)
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		f.Metadata = append(f.Metadata, views.MetadataPair{Key: k, Value: meta[k]})
	}
	f.Metadata = withBlankRows(f.Metadata)
	switch {
	case s.customers == nil || s.actions == nil:
		f.Unavailable = "Customers cannot be edited here: paydesk has no Stripe key configured."
	case c.Deleted:
		f.Unavailable = "This customer was deleted on Stripe and can no longer be changed."
	}
	return f
}

// updateCustomer changes a customer on Stripe (POST /customers/{id}):
// only the fields that differ from the customer's current values are sent.
func (s *Server) updateCustomer(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	c, ok := s.editedCustomer(w, r)
	if !ok {
		return
	}
	current := s.currentCustomerForm(c)
	f := current
	f.Errors = map[string]string{}
	readCustomerForm(&f, r.PostForm)
	state := r.PostForm.Get("key")
	f.Key = state
	pairs := checkCustomerForm(&f)
	if len(f.Errors) > 0 {
		f.Key = current.Key
		s.renderCustomerForm(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	p, params := customerChanges(c, f, pairs)
	key := customerUpdateKey(c.ID, state, f, pairs)

	// A form already sent is answered with what became of it, whatever
	// the customer looks like now; one Stripe refused is sent again.
	if out, found, err := s.priorAction(r, key, customerUpdateAction, "customer:"+c.ID, true); err != nil {
		s.serverError(w, r, "cannot read a customer request", err)
		return
	} else if found {
		s.customerOutcome(w, r, f, out)
		return
	}
	if current.Unavailable != "" {
		s.renderCustomerForm(w, r, http.StatusConflict, current)
		return
	}
	if state != current.Key {
		// Made from another state of the customer: the form shows today's
		// values, and what was typed beside them.
		current.Errors[""] = "This customer has changed since the form was opened. The form now shows its current values; " +
			"make your changes again and save."
		current.Yours = []views.FieldValue{{Label: "Name", Value: f.Name}, {Label: "Email", Value: f.Email},
			{Label: "Phone", Value: f.Phone}, {Label: "Description", Value: f.Description}}
		for _, k := range slices.Sorted(maps.Keys(pairs)) {
			current.Yours = append(current.Yours, views.FieldValue{Label: "Metadata " + k, Value: pairs[k]})
		}
		s.renderCustomerForm(w, r, http.StatusConflict, current)
		return
	}
	if len(params) == 0 {
		f.Key = current.Key
		f.Errors[""] = "Nothing was changed, so nothing was sent to Stripe."
		s.renderCustomerForm(w, r, http.StatusOK, f)
		return
	}
	f.Key = key
	out, err := s.runStripeAction(r, stripeAction{Key: key, Action: customerUpdateAction, Target: "customer:" + c.ID,
		Params: params, Refusals: customerRefusals,
		Call: func(ctx context.Context) (string, string, func(context.Context, *store.Store) error, error) {
			updated, requestID, err := s.customers.UpdateRecord(ctx, key, c.ID, p)
			if err != nil {
				return "", requestID, nil, err
			}
			return updated.ID, requestID, func(ctx context.Context, tx *store.Store) error {
				return tx.WriteThroughCustomer(ctx, updated)
			}, nil
		}})
	if err != nil {
		s.actionFailed(w, r, err)
		return
	}
	f.Key = state
	s.customerOutcome(w, r, f, out)
}

// customerChanges is the update Stripe is sent, only the fields that differ
// from c's, and the audit parameters: each changed field before and after.
func customerChanges(c store.Customer, f views.CustomerForm, pairs map[string]string) (stripeapi.CustomerParams, map[string]any) {
	var p stripeapi.CustomerParams
	params := map[string]any{}
	for _, field := range []struct {
		name        string
		before, now string
		set         **string
	}{
		{"name", deref(c.Name), f.Name, &p.Name},
		{"email", deref(c.Email), f.Email, &p.Email},
		{"phone", deref(c.Phone), f.Phone, &p.Phone},
		{"description", deref(c.Description), f.Description, &p.Description},
	} {
		if field.before != field.now {
			now := field.now
			*field.set = &now // "" clears the field on Stripe
			params[field.name] = map[string]any{"before": field.before, "after": field.now}
		}
	}
	before := customerMetadata(c)
	changed := map[string]string{}
	for k, v := range pairs {
		if before[k] != v {
			changed[k] = v
		}
	}
	for k := range before {
		if _, kept := pairs[k]; !kept {
			changed[k] = "" // removes the key on Stripe
		}
	}
	if len(changed) > 0 {
		p.Metadata = changed
		beforeChanged := map[string]string{}
		for k := range changed {
			if v, ok := before[k]; ok {
				beforeChanged[k] = v
			}
		}
		params["metadata"] = map[string]any{"before": beforeChanged, "after": changed}
	}
	return p, params
}

// editedCustomer reads the customer of an edit route, answering 404 itself.
func (s *Server) editedCustomer(w http.ResponseWriter, r *http.Request) (store.Customer, bool) {
	id, ok := s.detailID(w, r, "customer")
	if !ok {
		return store.Customer{}, false
	}
	d, err := s.mirror.CustomerDetail(r.Context(), id)
	if !s.detailFound(w, r, "customer", id, err) {
		return store.Customer{}, false
	}
	return d.Customer, true
}

// readCustomerForm copies the posted values into f. Surrounding space is
// dropped; the email is compared as Stripe stores it.
func readCustomerForm(f *views.CustomerForm, form url.Values) {
	f.Name = strings.TrimSpace(form.Get("name"))
	f.Email = strings.TrimSpace(form.Get("email"))
	f.Phone = strings.TrimSpace(form.Get("phone"))
	f.Description = strings.TrimSpace(form.Get("description"))
	keys, values := form["meta_key"], form["meta_value"]
	f.Metadata = nil
	for i := range max(len(keys), len(values)) {
		var m views.MetadataPair
		if i < len(keys) {
			m.Key = strings.TrimSpace(keys[i])
		}
		if i < len(values) {
			m.Value = strings.TrimSpace(values[i])
		}
		f.Metadata = append(f.Metadata, m)
	}
}

// checkCustomerForm checks f against Stripe's rules, recording each
// problem on its field, and returns the metadata pairs (blank rows left
// out). Nothing reaches Stripe from a form with errors.
func checkCustomerForm(f *views.CustomerForm) map[string]string {
	checkLength := func(field, label, v string, limit int) {
		switch {
		case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
			f.Errors[field] = label + " holds characters that cannot be stored."
		case utf8.RuneCountInString(v) > limit:
			f.Errors[field] = label + " is too long: at most " + strconv.Itoa(limit) + " characters."
		}
	}
	checkLength("name", "The name", f.Name, maxCustomerName)
	checkLength("email", "The email", f.Email, maxCustomerEmail)
	checkLength("phone", "The phone number", f.Phone, maxCustomerPhone)
	checkLength("description", "The description", f.Description, maxCustomerDescription)
	if f.Email != "" && f.Errors["email"] == "" {
		if addr, err := mail.ParseAddress(f.Email); err != nil || addr.Address != f.Email || !strings.Contains(f.Email, "@") {
			f.Errors["email"] = "Enter an email address like name@example.com."
		}
	}
	pairs := map[string]string{}
	for i, m := range f.Metadata {
		field := "metadata." + strconv.Itoa(i)
		switch {
		case m.Key == "" && m.Value == "":
			continue
		case m.Key == "":
			f.Errors[field] = "Give this value a key, or clear it."
		case m.Value == "":
			f.Errors[field] = "Give " + strconv.Quote(m.Key) + " a value, or clear the key to remove it."
		case strings.ContainsAny(m.Key, "[]"):
			f.Errors[field] = "A key cannot contain square brackets."
		case utf8.RuneCountInString(m.Key) > maxMetadataKey:
			f.Errors[field] = "The key is too long: at most " + strconv.Itoa(maxMetadataKey) + " characters."
		case utf8.RuneCountInString(m.Value) > maxMetadataValue:
			f.Errors[field] = "The value is too long: at most " + strconv.Itoa(maxMetadataValue) + " characters."
		case !utf8.ValidString(m.Key+m.Value) || strings.ContainsRune(m.Key+m.Value, 0):
			f.Errors[field] = "This pair holds characters that cannot be stored."
		default:
			if _, dup := pairs[m.Key]; dup {
				f.Errors[field] = "The key " + strconv.Quote(m.Key) + " is given twice."
				continue
			}
			pairs[m.Key] = m.Value
		}
	}
	if len(pairs) > maxMetadataKeys {
		f.Errors["metadata"] = "Stripe keeps at most " + strconv.Itoa(maxMetadataKeys) + " metadata pairs; this form has " +
			strconv.Itoa(len(pairs)) + "."
	}
	f.Metadata = withBlankRows(f.Metadata)
	return pairs
}

// withBlankRows keeps the filled rows (and any blank one before them, so
// error indexes still match) and adds blankMetadataRows empty ones.
func withBlankRows(rows []views.MetadataPair) []views.MetadataPair {
	last := -1
	for i, m := range rows {
		if m.Key != "" || m.Value != "" {
			last = i
		}
	}
	rows = rows[:last+1]
	for range blankMetadataRows {
		rows = append(rows, views.MetadataPair{})
	}
	return rows
}

// customerMetadata is the metadata of the customer as Stripe sent it.
func customerMetadata(c store.Customer) map[string]string {
	var obj struct {
		Metadata map[string]string `json:"metadata"`
	}
	_ = json.Unmarshal(c.Data, &obj)
	if obj.Metadata == nil {
		return map[string]string{}
	}
	return obj.Metadata
}

// customerRefusals word Stripe's refusals of a customer change.
var customerRefusals = map[string]string{
	"email_invalid":    "Stripe refused the email address: check it and save again.",
	"resource_missing": "Stripe no longer has this customer.",
}

// customerOutcome answers with what became of a customer form: the
// customer's page once Stripe made or changed it (now or by an earlier
// submission of the same form), else the form with the refusal.
func (s *Server) customerOutcome(w http.ResponseWriter, r *http.Request, f views.CustomerForm, out actionOutcome) {
	q := url.Values{}
	switch {
	case out.Result != "" && validObjectID(out.Result):
		if f.New {
			q.Set("created", "1")
		} else {
			q.Set("saved", "1")
		}
		if out.Again {
			q.Set("again", "1")
		}
		http.Redirect(w, r, objectURL("customers", out.Result)+"?"+q.Encode(), http.StatusSeeOther)
	case out.Pending:
		s.renderError(w, r, http.StatusConflict, "This form was already sent to Stripe and its answer is still on its way. "+
			"Open the customer in a moment; do not send it again.")
	case out.Refusal != nil:
		msg, status := stripeRefusal(out.Refusal, customerRefusals)
		f.Errors[""] = msg
		s.renderCustomerForm(w, r, status, f)
	default:
		f.Errors[""] = "Stripe refused this form before: " + cmp.Or(out.PriorRefusal, "no reason given") +
			" Sending it again is safe."
		s.renderCustomerForm(w, r, http.StatusConflict, f)
	}
}

func (s *Server) renderCustomerForm(w http.ResponseWriter, r *http.Request, status int, f views.CustomerForm) {
	w.Header()["Cache-Control"] = noStoreCache
	title := "New customer"
	if !f.New {
		title = "Edit customer " + f.ID
	}
	s.render(w, r, status, views.CustomerFormPage(s.page(r, title, "/customers"), f))
}

// optionalText is nil for "", so an empty field of a new customer is not sent.
func optionalText(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// customerFlash is the notice the customer page shows after a form of
// this file redirected to it.
func customerFlash(q url.Values) string {
	again := q.Get("again") == "1"
	switch {
	case q.Get("created") == "1" && again:
		return "This form had already created this customer. Nothing was created again."
	case q.Get("created") == "1":
		return "The customer was created on Stripe."
	case q.Get("saved") == "1" && again:
		return "This form's changes had already been saved. Nothing was sent again."
	case q.Get("saved") == "1":
		return "The changes were saved on Stripe."
	}
	return ""
}
