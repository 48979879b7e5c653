package diagnose

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
)

// Sessions kept in the cookie (cookie-session, auth.Gate.CookieSessions):
// the same steps, told in that package's terms. There is no store step to
// explain: the session is the cookie.

// diagnoseCookieSession explains the gate's walk for a cookie-session
// header. A value alone cannot be checked: its signature is another
// cookie.
func diagnoseCookieSession(ctx context.Context, cfg Config, input string, header bool) (*Report, error) {
	d := &run{cfg: cfg, gate: cfg.Gate.Config()}
	now := cfg.Now
	if now == nil {
		now = d.gate.Now
	}
	d.now = now()
	name := d.gate.CookieName
	if !header {
		d.fail(auth.StepCookie, connectsid.CodeNoCookie,
			fmt.Sprintf("a cookie value alone cannot be checked: cookie-session signs it in a second cookie, %s.sig", OneLine(name)),
			text(fmt.Sprintf("pass the whole Cookie header (%s=…; %s.sig=…) of a request to the app", OneLine(name), OneLine(name))))
		return &Report{Findings: d.findings}, nil
	}
	keys := 0
	if k, ok := d.gate.Cookies.(interface{ Keys() int }); ok {
		keys = k.Keys()
	}
	var steps []auth.StepInfo
	tctx := auth.WithTrace(ctx, &auth.Trace{Step: func(i auth.StepInfo) { steps = append(steps, i) }})
	_, _ = cfg.Gate.CheckCookie(tctx, input)
	for _, st := range steps {
		var ok bool
		switch st.Step {
		case auth.StepCookie:
			ok = d.csCookie(input, st)
		case auth.StepSignature:
			ok = d.csSignature(input, st, keys)
		case auth.StepStore:
			d.pass(auth.StepStore, "none: cookie-session keeps the session in the cookie; nothing on a server can revoke it")
			ok = true
		case auth.StepRecord:
			ok = d.csRecord(st)
		default:
			if d.step(ctx, input, st) {
				return &Report{Findings: d.findings}, nil
			}
			ok = true
		}
		if !ok {
			break
		}
	}
	return &Report{Findings: d.findings}, nil
}

func (d *run) csCookie(header string, st auth.StepInfo) bool {
	name := d.gate.CookieName
	if st.Refusal == nil {
		msg := fmt.Sprintf("%s found, with %s.sig", OneLine(name), OneLine(name))
		if sig, ok := cookiesession.Lookup(header, name+".sig"); !ok || sig == "" {
			msg = fmt.Sprintf("%s found", OneLine(name))
		}
		d.pass(auth.StepCookie, msg)
		return true
	}
	if _, found := cookiesession.Lookup(header, name); found {
		d.fail(auth.StepCookie, connectsid.CodeNoCookie, fmt.Sprintf("the cookie %s is empty: cookie-session sees no session", OneLine(name)),
			text("log in to the app again (an empty cookie is what req.session = null leaves), then copy the Cookie header of a request to it"))
		return false
	}
	names := sortedKeys(connectsid.ParseCookies(header))
	f := d.fail(auth.StepCookie, connectsid.CodeNoCookie, fmt.Sprintf("no cookie named %s", OneLine(name)),
		text("cookie-session's cookie is named by its name option (session by default): ", set(Change{Setting: SettingCookieName})))
	if len(names) > 0 {
		f.Details = append(f.Details, text("names present: "+listNames(names)))
	}
	return false
}

func (d *run) csSignature(header string, st auth.StepInfo, keys int) bool {
	cname := d.gate.CookieName
	if st.Refusal == nil {
		msg := fmt.Sprintf("%s.sig verified with key %d of %d (%s)", OneLine(cname), st.SecretIndex+1, keys, d.algorithm())
		if st.SecretIndex > 0 {
			msg += " — a rotation is in progress: cookies signed with older keys are still in use"
		}
		f := d.pass(auth.StepSignature, msg)
		f.SID, f.Secret, f.Secrets = d.id(st.SID), st.SecretIndex+1, keys
		return true
	}
	err := st.Refusal.Unwrap()
	switch {
	case errors.Is(err, cookiesession.ErrNoSignature):
		d.fail(auth.StepSignature, st.Refusal.Code, fmt.Sprintf("no %s.sig cookie beside %s: cookie-session sees no session without it", OneLine(cname), OneLine(cname)),
			text("copy the whole Cookie header, both cookies; an app with cookieSession({ signed: false }) is not supported: its cookie can be forged"))
	default:
		sig, _ := cookiesession.Lookup(header, cname+".sig")
		f := d.fail(auth.StepSignature, st.Refusal.Code,
			fmt.Sprintf("no key verifies %s.sig (%s tried, %s)", OneLine(cname), plural(keys, "key"), d.algorithm()),
			text("check ", name(SettingSecrets), " (cookie-session's keys option, in its order) and keygrip's algorithm: "+
				"an app that passes new Keygrip(keys, 'sha256') needs ?algorithm=sha256 on the store URL"))
		f.Secrets = keys
		if want := len(sig); want != 27 && want != 43 && want != 86 {
			f.Details = append(f.Details, text(fmt.Sprintf("the signature is %d characters long: keygrip's are 27 (sha1), 43 (sha256) or 86 (sha512): the cookie was cut or changed", want)))
		}
	}
	return false
}

func (d *run) csRecord(st auth.StepInfo) bool {
	if st.Refusal != nil {
		d.fail(auth.StepRecord, st.Refusal.Code, "the signature verified, but the value is not a session: "+malformedWhy(st.Cause),
			text("cookie-session writes base64 of a JSON object; this value was signed with the app's key but not written by cookie-session"))
		return false
	}
	d.pass(auth.StepRecord, "a session (cookie-session's: no expiry of its own; the browser drops the cookie at its maxAge)")
	return true
}

func (d *run) algorithm() string {
	if a, ok := d.gate.Cookies.(interface{ Algorithm() string }); ok {
		return "HMAC-" + strings.ToUpper(a.Algorithm())
	}
	return "keygrip"
}
