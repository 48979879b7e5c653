package wire

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
	mm, ok := asMap(v)
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
		if m.Data, ok = asMap(d); !ok {
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
	case Object:
		for _, x := range v {
			if hasBinary(x.Value) {
				return true
			}
		}
	}
	return false
}

// Fields of Data -----------------------------------------------------------
//
// What the sharded adapter puts in Data, by key: "packet" (a Packet's Map
// for ClusterBroadcast; the event and its arguments for
// ClusterServerSideEmit; the acknowledged value for ClusterBroadcastAck
// and ClusterServerSideEmitResponse), "opts" (an Options' Map), "rooms"
// (StringValues), "close", "requestId", "sockets" (SocketInfo Maps),
// "clientCount". The methods below read the typed ones.

// RequestID is Data's requestId, "" when it has none (no answer wanted).
func (m *ClusterMessage) RequestID() string {
	id, _ := m.Data["requestId"].(string)
	return id
}

// Opts decodes Data's opts: nil and no error when it has none, an error
// wrapping ErrMalformed when they are not {rooms, except, flags}.
func (m *ClusterMessage) Opts() (*Options, error) {
	v, ok := m.Data["opts"]
	if !ok || v == nil {
		return nil, nil
	}
	o := &Options{}
	if err := decodeOptions(v, o); err != nil {
		return nil, err
	}
	return o, nil
}

// Packet decodes Data's packet as a ClusterBroadcast holds it; an error
// wrapping ErrMalformed when it is missing or not a packet.
func (m *ClusterMessage) Packet() (*Packet, error) {
	p := &Packet{}
	if err := decodePacket(m.Data["packet"], p); err != nil {
		return nil, err
	}
	return p, nil
}

// Rooms decodes Data's rooms (ClusterSocketsJoin and ClusterSocketsLeave):
// nil when it has none, an error wrapping ErrMalformed when they are not a
// list of rooms.
func (m *ClusterMessage) Rooms() ([]string, error) { return rooms(m.Data["rooms"]) }

// Sockets decodes Data's sockets (ClusterFetchSocketsResponse); entries
// that are not sockets are left out.
func (m *ClusterMessage) Sockets() []SocketInfo {
	list, _ := m.Data["sockets"].([]any)
	var out []SocketInfo
	for _, x := range list {
		if xm, ok := asMap(x); ok {
			var si SocketInfo
			if socketInfo(xm, &si) == nil {
				out = append(out, si)
			}
		}
	}
	return out
}

// ClientCount is Data's clientCount (ClusterBroadcastClientCount), 0 when
// it has none or it is not a whole number.
func (m *ClusterMessage) ClientCount() int64 {
	n, _ := integer(m.Data["clientCount"])
	return n
}

// Map is the packet as a cluster message's Data holds it: {type, data,
// nsp}.
func (p *Packet) Map() map[string]any {
	return map[string]any{"type": int64(p.Type), "data": nonNilAny(p.Data), "nsp": p.Nsp}
}

// Map is the options as a cluster message's Data holds them: {rooms,
// except, flags}.
func (o *Options) Map() map[string]any {
	return map[string]any{"rooms": StringValues(o.Rooms), "except": StringValues(o.Except), "flags": o.Flags.asMap()}
}

// Map is the socket as a ClusterFetchSocketsResponse's sockets hold it:
// {id, handshake, rooms, data}.
func (s *SocketInfo) Map() map[string]any {
	return map[string]any{"id": s.ID, "handshake": s.Handshake, "rooms": StringValues(s.Rooms), "data": s.Data}
}

// StringValues is s as a list in Data (rooms): a []any of strings, empty
// rather than nil.
func StringValues(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}
