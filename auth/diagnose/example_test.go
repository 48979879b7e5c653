package diagnose_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/expressbridge/expressbridge/auth"
	"github.com/expressbridge/expressbridge/auth/diagnose"
	"github.com/expressbridge/expressbridge/connectsid"
	"github.com/expressbridge/expressbridge/connectsid/storeurl"
)

// Tell a user why the bridge refuses their cookie.
func Example() {
	ctx := context.Background()
	st, err := storeurl.Open(ctx, os.Getenv("REDIS_URL"), storeurl.Options{})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	v, _ := connectsid.NewVerifier(os.Getenv("SESSION_SECRET"))
	gate, err := auth.New(auth.Config{Verifier: v, Store: st.Redis})
	if err != nil {
		panic(err)
	}
	report, err := diagnose.Cookie(ctx, diagnose.Config{Gate: gate, Store: st}, "theme=dark; connect.sid=s%3A…")
	if err != nil {
		panic(err)
	}
	for _, f := range report.Findings {
		fmt.Printf("%-4s %-9s %s\n", f.Status, f.Step, f.Message)
		if !f.Hint.IsZero() {
			fmt.Println("     hint:", f.Hint) // in general words; Format words them as your settings
		}
	}
}

// envNames words settings as the environment variables of a deployment.
type envNames struct{}

func (envNames) Name(s diagnose.Setting) string {
	return "APP_" + strings.ToUpper(strings.ReplaceAll(string(s), "-", "_"))
}

func (n envNames) Set(changes ...diagnose.Change) string {
	var words []string
	for _, c := range changes {
		words = append(words, n.Name(c.Setting)+"="+c.Value)
	}
	return "set " + strings.Join(words, " ")
}

// The same hint, in general words and in a deployment's own.
func ExampleHintFor() {
	where := diagnose.Where{Kind: storeurl.Redis, Prefix: "sess:"}
	hint := diagnose.HintFor(connectsid.ErrStoreUnavailable, where)
	fmt.Println(hint)
	fmt.Println(hint.Format(envNames{}))
	// Output:
	// is redis-server running? check the store's address
	// is redis-server running? check APP_STORE_URL
}
