# expressbridge: `make demo` runs the demo, `make test` runs every test.
# Both install what they need (npm ci, redis-server and mariadb-server via
# apt-get as root, Go modules) or say in one line what is missing.

GO        ?= go
BIN       := bin/expressbridge
FUZZTIME  ?= 30s
BENCHTIME ?= 1s
TESTFLAGS ?=

.PHONY: all build test vet vectors vectors-check demo bench bench-scale bench-fanout fuzz soak soak-hostile clean deps

all: build

deps:
	@scripts/ensure.sh go node redis mariadb node-modules
	@$(GO) mod download

build:
	@scripts/ensure.sh go
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/expressbridge

## test: vectors still match the real npm packages, vet, then every Go test
## with the race detector (real redis-server, node and Chromium processes).
test: deps vectors-check vet
	$(GO) test -race -count=1 -timeout 9m $(TESTFLAGS) ./...
	@# Allocation counts mean nothing under -race (sync.Pool drops items).
	$(GO) test -count=1 -run 'DoesNotAllocate' ./connectsid

vet:
	$(GO) vet ./...

## vectors: regenerate the vectors from the real npm packages: cookies
## (testdata/), cookie-session's (connectsid/cookiesession/testdata/), and the Socket.IO Redis adapter's messages
## (adapter/redisadapter/wire/testdata/, which `test` checks against the
## packages each run in TestAdapterVectorsMatchNode).
vectors: deps
	cd node-app && node scripts/gen-vectors.js ../testdata/cookies.json
	cd node-app && node scripts/gen-cookiesession-vectors.js ../connectsid/cookiesession/testdata/vectors.json
	EXPRESSBRIDGE_UPDATE_VECTORS=1 $(GO) test -count=1 -run '^TestAdapterVectorsMatchNode$$' ./adapter/redisadapter/wire

## vectors-check: regenerate into a temp folder and fail if Express's answers
## differ from the committed vectors.
vectors-check:
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	(cd node-app && node scripts/gen-vectors.js $$tmp/cookies.json 2>/dev/null) && \
	for f in cookies.json cookies-big.json; do \
	  diff -q testdata/$$f $$tmp/$$f >/dev/null || { \
	    echo "vectors-check: testdata/$$f differs from what the real npm packages say now:"; \
	    diff testdata/$$f $$tmp/$$f | head -20; echo "run 'make vectors' if the change is intended"; exit 1; }; \
	done && \
	(cd node-app && node scripts/gen-cookiesession-vectors.js $$tmp/cookiesession.json 2>/dev/null) && \
	{ diff -q connectsid/cookiesession/testdata/vectors.json $$tmp/cookiesession.json >/dev/null || { \
	    echo "vectors-check: connectsid/cookiesession/testdata/vectors.json differs from what the real npm packages say now:"; \
	    diff connectsid/cookiesession/testdata/vectors.json $$tmp/cookiesession.json | head -20; \
	    echo "run 'make vectors' if the change is intended"; exit 1; }; } && \
	echo "vectors-check: testdata/ agrees with the real npm packages"

## demo: Redis + the Express app + the Go bridge; prints the URL to open.
demo: deps build
	@scripts/demo.sh

## bench: Go micro-benchmarks beside the Node packages' own figures, then
## server CPU per authenticated handshake, idle memory and the fan-out of the
## bridge against Socket.IO and ws (bench/results.json, bench/results.svg),
## then its Socket.IO endpoint against Node's Socket.IO 4 over WebSocket and
## over polling then upgrade (bench/results-socketio.json).
bench: deps
	@scripts/bench.sh $(BENCHTIME)
	@scripts/bench-peers.sh
	@$(MAKE) --no-print-directory bench-fanout

## bench-fanout: one broadcast to 10,000 Socket.IO clients over 2 Go
## instances, then over 2 Node Socket.IO instances on the real Redis
## adapter: delivered messages/s and server CPU per message (bench/fanout).
bench-fanout: deps
	$(GO) vet -tags fanout ./bench/fanout
	$(GO) test -tags fanout -run '^TestFanout$$' -count=1 -timeout 9m -v ./bench/fanout

## bench-scale: the bridge alone holding N (100,000) idle authenticated
## connections, 2,000 sessions shared by them, then a reconnect storm after a
## restart of the bridge (bench/results-scale.json). The file-descriptor
## hard limit caps N; the run says so.
N ?= 100000
bench-scale: deps
	@scripts/bench-peers.sh scale -hold $(N)

## soak: 5,000 WebSocket connections exchanging messages for 60 s against
## real Redis; prints goroutines, heap and RSS before, at peak and after,
## messages and errors. Not in `test`; without -race, which caps goroutines.
soak: deps
	$(GO) test -tags soak -run '^TestSoak$$' -count=1 -timeout 10m -v ./bridge

## soak-hostile: issue #25's hostile clients one after another against
## `expressbridge serve` at its defaults (beside the Express app and a
## Redis of its own), at the issue's sizes (SCALE divides them): serve's RSS
## and goroutines before, at the peak and after each, and a legitimate
## login's time during it, as a Markdown table. ATTACKS names some (ebload
## attack -h lists them). Not in `test` (TestHostileSoak is, scaled down).
SCALE   ?= 1
ATTACKS ?=
soak-hostile: deps build
	$(GO) run ./cmd/ebload attack -scale $(SCALE) $(ATTACKS)

## fuzz: each fuzz target for FUZZTIME (default 30s); crashers land in
## testdata/fuzz/ beside the package, where go test replays them.
fuzz:
	@for t in FuzzParseCookies:./connectsid FuzzUnsign:./connectsid FuzzDecodeSession:./connectsid \
	          FuzzChatMessage:./examples/chat FuzzTruthyText:./auth FuzzDecodePayload:./engineio/parser FuzzDecode:./socketio/parser FuzzArrayLen:./socketio/parser \
	          FuzzDecodeBroadcast:./adapter/redisadapter/wire FuzzDecodeRequest:./adapter/redisadapter/wire \
	          FuzzDecodeResponse:./adapter/redisadapter/wire FuzzDecodeClusterMessage:./adapter/redisadapter/wire \
	          FuzzDecodeJSONValue:./adapter/redisadapter/wire FuzzJSONMsgpackRoundTrip:./adapter/redisadapter/wire FuzzQuoteIdent:./connectsid/pgstore FuzzParsePayload:./connectsid/pgstore \
	          FuzzFromHeader:./connectsid/cookiesession FuzzDecode:./connectsid/cookiesession \
	          FuzzParseURL:./connectsid/mysqlstore FuzzInflate:./wsconn FuzzDecodeRecoveryAuth:./socketio; do \
	  name=$${t%%:*}; pkg=$${t#*:}; echo "== $$name ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

clean:
	rm -rf bin build
