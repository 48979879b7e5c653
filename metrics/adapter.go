package metrics

import "github.com/prometheus/client_golang/prometheus"

func newAdapterResubscriptions() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "adapter_resubscriptions_total",
		Help: "Times a Pub/Sub subscription between instances (the Socket.IO Redis adapter, the /ws relay) " +
			"was made again after its connection broke.",
	})
}

// AdapterObserver returns the Observer of the fan-out between instances
// (redisadapter.BusConfig.Observer): it counts their resubscriptions.
func (m *Metrics) AdapterObserver() interface{ Resubscribed() } { return adapterObserver{m} }

type adapterObserver struct{ m *Metrics }

func (o adapterObserver) Resubscribed() { o.m.adapterSubs.Inc() }
