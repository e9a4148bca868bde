package core

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// StepUp is a route's requirement on how, and how recently, the user
// authenticated (RFC 9470). A token that falls short is refused with 401
// insufficient_user_authentication, and the challenge carries acr_values
// and max_age so that the client can ask the authorization server for a
// token that meets them (RFC 9470 section 3). It combines with the other
// [Requirements]: scopes and roles are checked first, the live session
// check of a Sensitive route last.
type StepUp struct {
	// ACR lists the acceptable authentication context classes, in order of
	// preference: the token's acr claim (ClaimNames.ACR) must be one of
	// them, compared exactly. Empty: any acr, or none, is accepted. A value
	// may not hold a space or a character outside printable ASCII (it is
	// sent in the space-separated acr_values).
	ACR []string
	// MaxAge is the longest time since the user's authentication (the
	// auth_time claim, ClaimNames.AuthTime) the route accepts; a token
	// without auth_time falls short. Zero: no limit. It is sent as max_age
	// in whole seconds. No leeway is added to it; an auth_time later than
	// the clock plus Config.Leeway falls short too.
	MaxAge time.Duration
}

// IsZero reports whether s asks for nothing.
func (s StepUp) IsZero() bool { return len(s.ACR) == 0 && s.MaxAge == 0 }

// valid reports whether s can be checked and sent in a challenge.
func (s StepUp) valid() error {
	if s.MaxAge < 0 {
		return errors.New("StepUp.MaxAge is negative")
	}
	for _, v := range s.ACR {
		if v == "" {
			return errors.New("StepUp.ACR holds an empty value")
		}
		for i := 0; i < len(v); i++ {
			if v[i] <= 0x20 || v[i] >= 0x7f || v[i] == '"' || v[i] == '\\' {
				return errors.New("StepUp.ACR holds a value with a space, quote or non-printable character")
			}
		}
	}
	return nil
}

// Authentication is what a token says of the user's authentication event
// (RFC 9470 section 6.1): the claims ClaimNames.ACR, AMR and AuthTime.
type Authentication struct {
	// ACR is the authentication context class reference, or "".
	ACR string
	// AMR lists the authentication methods (RFC 8176), or nil.
	AMR []string
	// AuthTime is when the user authenticated; zero when the claim is absent.
	AuthTime time.Time
}

// Authentication returns the acr, amr and auth_time claims of p's token
// (JWT claims, or the introspection answer of an introspected token), read
// through the configured claim names. They are read from the claims when
// asked for, so that routes without a step-up requirement pay nothing for
// them. err is set when one of them has the wrong type or is found twice;
// a step-up route then refuses the token.
func (p *Principal) Authentication() (Authentication, error) {
	r := defaultStepUpReader
	if p.auth != nil {
		r = &p.auth.stepUpClaims
	}
	return r.authentication(p.raw)
}

var defaultStepUpReader = func() *claimReader {
	var n ClaimNames
	n.stepUpDefaults()
	r := newStepUpReader(n)
	return &r
}()

// stepUpDefaults fills the default step-up claim names.
func (n *ClaimNames) stepUpDefaults() {
	if n.ACR == "" {
		n.ACR = "acr"
	}
	if n.AMR == "" {
		n.AMR = "amr"
	}
	if n.AuthTime == "" {
		n.AuthTime = "auth_time"
	}
}

// newStepUpReader reads the step-up claims of n, and no other.
func newStepUpReader(n ClaimNames) claimReader {
	var names [numNamedClaims]string
	names[claimACR], names[claimAMR], names[claimAuthTime] = n.ACR, n.AMR, n.AuthTime
	return readerOf(names)
}

var errNoClaims = errors.New("principal has no claims")

func (r *claimReader) authentication(raw []byte) (Authentication, error) {
	if len(raw) == 0 {
		return Authentication{}, errNoClaims
	}
	var nc namedClaims
	err := readObject(raw, func(name []byte, d *jsontext.Decoder) error {
		ok, err := r.member(name, d, &nc)
		if !ok && err == nil {
			err = d.SkipValue()
		}
		return err
	})
	if err != nil {
		return Authentication{}, err
	}
	out := Authentication{ACR: nc.acr, AMR: nc.amr}
	if nc.seen&(1<<claimAuthTime) != 0 {
		out.AuthTime = numericTime(nc.authTime)
	}
	return out, nil
}

// checkStepUp refuses p when its authentication falls short of s.
func (a *Authenticator) checkStepUp(p *Principal, s StepUp) error {
	if s.IsZero() {
		return nil
	}
	if err := s.valid(); err != nil {
		return newError(ErrMisconfigured, err)
	}
	short := func(cause string) error {
		e := newError(ErrInsufficientUserAuthentication, errors.New(cause))
		e.StepUp = &s
		return e
	}
	au, err := p.Authentication()
	if err != nil {
		return short("acr, amr or auth_time unreadable: " + err.Error())
	}
	if len(s.ACR) > 0 && (au.ACR == "" || !containsString(s.ACR, au.ACR)) {
		return short("acr is not one the route accepts")
	}
	if s.MaxAge > 0 {
		if au.AuthTime.IsZero() {
			return short("no auth_time, and the route has a max_age")
		}
		now := a.cfg.Now()
		if au.AuthTime.After(now.Add(a.cfg.Leeway)) {
			return short("auth_time is in the future")
		}
		if now.Sub(au.AuthTime) > s.MaxAge {
			return short("auth_time is older than the route's max_age")
		}
	}
	return nil
}

// writeStepUp writes the RFC 9470 challenge parameters of s.
func writeStepUp(b *strings.Builder, s *StepUp) {
	if s == nil {
		return
	}
	if len(s.ACR) > 0 {
		b.WriteString(", acr_values=")
		writeQuoted(b, strings.Join(s.ACR, " "))
	}
	if s.MaxAge > 0 {
		b.WriteString(", max_age=")
		writeQuoted(b, strconv.FormatInt(int64(s.MaxAge/time.Second), 10))
	}
}
