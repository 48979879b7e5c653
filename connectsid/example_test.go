package connectsid_test

import (
	"errors"
	"fmt"

	"github.com/expressbridge/expressbridge/connectsid"
)

func ExampleVerifier_FromHeader() {
	// The app's secret option: ["new secret", "old secret"].
	v, err := connectsid.NewVerifier("new secret", "old secret")
	if err != nil {
		panic(err)
	}
	header := "theme=dark; connect.sid=" + v.Sign("d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR")
	sid, secret, err := v.FromHeader(header, "connect.sid")
	fmt.Println(sid, secret, err)

	_, _, err = v.FromHeader("connect.sid=d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR", "connect.sid")
	fmt.Println(errors.Is(err, connectsid.ErrNotSigned), connectsid.ErrorCode(err))
	// Output:
	// d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR 0 <nil>
	// true not-signed
}

func ExampleVerifier_Sign() {
	v, _ := connectsid.NewVerifier("keyboard cat")
	fmt.Println(v.Sign("d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR"))
	// Output: s%3Ad-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR.rPdcmAd8H7LnDrih7JlnEAc5ob49dAfrkjmDX6FZaPs
}

func ExampleParseCookies() {
	c := connectsid.ParseCookies(`a=1; b="x y"; a=2; c=%C3%A9; d=%E9`)
	fmt.Println(c["a"], c["b"], c["c"], c["d"])
	// Output: 1 x y é %E9
}

func ExampleDecodeSession() {
	s, err := connectsid.DecodeSession("d-L9xbwSXrMcxjPo6X_sFHJSTgb3vlOR",
		`{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"loggedIn":true,"username":"Zoë"}`)
	if err != nil {
		panic(err)
	}
	name, _ := s.String("username")
	in, _ := s.Bool("loggedIn")
	_ = s.Set("visits", 3)
	fmt.Println(name, in)
	fmt.Println(string(s.AppJSON()))
	// Output:
	// Zoë true
	// {"loggedIn":true,"username":"Zoë","visits":3}
}
