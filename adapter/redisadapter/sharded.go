package redisadapter

// ClusterMessageType is socket.io-adapter 2.5's MessageType, the message
// types of the sharded adapter (createShardedAdapter, Redis 7 sharded
// Pub/Sub).
type ClusterMessageType int

// The message types of socket.io-adapter 2.5's ClusterAdapter.
const (
	ClusterInitialHeartbeat       ClusterMessageType = 1
	ClusterHeartbeat              ClusterMessageType = 2
	ClusterBroadcast              ClusterMessageType = 3  // Data: packet, opts, requestId when acks are wanted
	ClusterSocketsJoin            ClusterMessageType = 4  // Data: opts, rooms
	ClusterSocketsLeave           ClusterMessageType = 5  // Data: opts, rooms
	ClusterDisconnectSockets      ClusterMessageType = 6  // Data: opts, close
	ClusterFetchSockets           ClusterMessageType = 7  // Data: opts, requestId
	ClusterFetchSocketsResponse   ClusterMessageType = 8  // Data: requestId, sockets
	ClusterServerSideEmit         ClusterMessageType = 9  // Data: packet, requestId when an ack is wanted
	ClusterServerSideEmitResponse ClusterMessageType = 10 // Data: requestId, packet
	ClusterBroadcastClientCount   ClusterMessageType = 11 // Data: requestId, clientCount
	ClusterBroadcastAck           ClusterMessageType = 12 // Data: requestId, packet
	ClusterAdapterClose           ClusterMessageType = 13
)

// ClusterMessage is a message of the sharded adapter, on ShardedChannel,
// ShardedRoomChannel or ShardedResponseChannel: {type, data, uid, nsp}.
// Data's fields depend on Type (see the constants); its values are decoded
// as the package's values are, with no further checking.
type ClusterMessage struct {
	Type ClusterMessageType
	Data map[string]any
	UID  string
	Nsp  string
}

// Encode returns the message as the sharded adapter writes it: MessagePack
// when Data holds binary ([]byte) for a type that may carry it, JSON
// otherwise.
func (m *ClusterMessage) Encode() ([]byte, error) {
	var f fields
	f.add("type", int64(m.Type))
	if m.Data != nil {
		f.add("data", m.Data)
	}
	f.add("uid", m.UID)
	f.add("nsp", m.Nsp)
	switch m.Type {
	case ClusterBroadcast, ClusterBroadcastAck, ClusterFetchSocketsResponse, ClusterServerSideEmit, ClusterServerSideEmitResponse:
		if hasBinary(m.Data) {
			return f.msgpack()
		}
	}
	return f.json()
}

// DecodeClusterMessage decodes a payload of the sharded adapter, JSON or
// MessagePack, with DecodeRequest's limits.
func DecodeClusterMessage(data []byte) (*ClusterMessage, error) {
	v, _, err := decodeAny(data)
	if err != nil {
		return nil, err
	}
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, malformed("a cluster message is a map, got %T", v)
	}
	t, ok := integer(mm["type"])
	if !ok {
		return nil, malformed("message type %v", mm["type"])
	}
	m := &ClusterMessage{Type: ClusterMessageType(t)}
	if err := str(mm, "uid", &m.UID); err != nil {
		return nil, err
	}
	if err := str(mm, "nsp", &m.Nsp); err != nil {
		return nil, err
	}
	if d, ok := mm["data"]; ok && d != nil {
		if m.Data, ok = d.(map[string]any); !ok {
			return nil, malformed("data of type %T", d)
		}
	}
	return m, nil
}

// hasBinary reports whether v holds a []byte anywhere.
func hasBinary(v any) bool {
	switch v := v.(type) {
	case []byte:
		return true
	case []any:
		for _, x := range v {
			if hasBinary(x) {
				return true
			}
		}
	case map[string]any:
		for _, x := range v {
			if hasBinary(x) {
				return true
			}
		}
	}
	return false
}
