package cookiesession_test

import (
	"fmt"

	"github.com/expressbridge/expressbridge/connectsid/cookiesession"
)

// The app: app.use(cookieSession({ keys: ['new key', 'old key'] })).
// The header is what cookie-session 2.1.1 set for {loggedIn: true,
// username: "alice"} (testdata/vectors.json).
func ExampleCodec_FromHeader() {
	c, err := cookiesession.New(cookiesession.Config{Keys: []string{"new key", "old key"}})
	if err != nil {
		panic(err)
	}
	header := "session=eyJsb2dnZWRJbiI6dHJ1ZSwidXNlcm5hbWUiOiJhbGljZSJ9; session.sig=7toQ8v1hmCGmEHtCajSCCymFYkY"
	_, key, sess, err := c.FromHeader(header)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	user, _ := sess.String("username")
	fmt.Println(user, "verified by key", key+1)

	_, _, _, err = c.FromHeader("session=eyJsb2dnZWRJbiI6dHJ1ZSwidXNlcm5hbWUiOiJhbGljZSJ9")
	fmt.Println(err)
	// Output:
	// alice verified by key 1
	// no .sig cookie beside the session cookie: session cookie is not signed
}
