package views

// View models: the plain values handlers hand to the components. They carry
// already-formatted strings where formatting needs context the view does not
// have (time zones, "never"), and nothing that needs I/O.

// Viewer is the signed-in staff member; a nil *Viewer means signed out.
type Viewer struct {
	Email, Name, Role string
}

// Page is what every page's layout needs: its title, who is looking, the
// Stripe mode, the navigation built for the viewer's role and a one-line
// flash notice.
type Page struct {
	Title string
	User  *Viewer // nil on the login page
	Live  bool    // Stripe live mode (false: test mode)
	Nav   []NavItem
	Flash string // optional one-line notice
	// Status is the "behind" badge in the header of signed-in pages.
	Status MirrorStatus
}

// NavItem is one link of the main navigation; Current marks the page shown.
type NavItem struct {
	Label, Href string
	Current     bool
}

// LoginForm is the sign-in form as typed: the password is never echoed back.
type LoginForm struct {
	Email string
	Next  string // where to go after signing in, kept in a hidden field
	Error string
}

// UserRow is one staff account in the users table.
type UserRow struct {
	ID          int64
	Email, Name string
	Role        string
	Disabled    bool
	LastLogin   string // preformatted, or "never"
	IsSelf      bool   // the viewer's own account: no role or disable form
}

// NewUserForm is the "Add a user" form as typed, with errors by field name
// ("email", "name", "role"); errors under any other key are shown above the
// form.
type NewUserForm struct {
	Email, Name, Role string
	Errors            map[string]string
}

// UsersData is the admin users page.
type UsersData struct {
	Users []UserRow
	Roles []string // assignable roles, lowest first; DefaultRoles when empty
	New   NewUserForm
	// OneTimePassword is shown once, after an add or a reset, together with
	// OneTimeFor, the email of the account it belongs to.
	OneTimePassword string
	OneTimeFor      string
}

// DefaultRoles are the staff roles, lowest first, used when UsersData.Roles
// is empty.
var DefaultRoles = []string{"viewer", "support", "billing", "admin"}

// AuditFilter is the audit log filter as typed; From and To are YYYY-MM-DD.
type AuditFilter struct {
	Actor, Action, Target, From, To string
}

// AuditRow is one audit log entry, every field preformatted.
type AuditRow struct {
	ID                          int64
	At                          string
	Actor, Action, Target       string
	Params, Outcome             string
	StripeRequestID, RemoteAddr string
}

// AuditData is the audit log page: the filter, one page of rows, the link to
// older rows ("" when there are none) and a safe error message.
type AuditData struct {
	Filter  AuditFilter
	Rows    []AuditRow
	NextURL string
	Error   string
}
