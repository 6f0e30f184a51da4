package flows

import (
	"bytes"
	"encoding/binary"
)

// Protocols Classify recognises.
const (
	ProtoTLS      = "tls"
	ProtoHTTP     = "http"  // HTTP/1.x
	ProtoHTTP2    = "http2" // cleartext HTTP/2 (h2c), which gRPC without TLS speaks
	ProtoPostgres = "postgres"
	ProtoMySQL    = "mysql"
	ProtoRedis    = "redis"
	ProtoMongoDB  = "mongodb"
	ProtoAMQP     = "amqp"
	ProtoKafka    = "kafka"
)

// Encryption verdicts: what the first bytes show. "" means they do not say.
const (
	EncryptionTLS       = "tls"
	EncryptionPlaintext = "plaintext"
)

// Verdict is what a connection's first bytes say: the protocol ("" when
// not recognised) and whether it is encrypted ("" when not known).
type Verdict struct {
	Protocol   string
	Encryption string
}

// Classify looks at the first bytes a client sent (request) and the first
// its server sent back (response); either may be missing. It recognises a
// TLS handshake (whatever it carries), HTTP/1.x, the HTTP/2 preface,
// PostgreSQL (and whether it switched to TLS), MySQL (and whether the
// client asked for TLS), Redis, MongoDB, AMQP and Kafka.
func Classify(request, response []byte) Verdict {
	switch {
	case isTLSHandshake(request, 1) || isTLSHandshake(response, 2):
		return Verdict{ProtoTLS, EncryptionTLS}
	case bytes.HasPrefix(request, []byte(http2Preface)) || len(request) < len(http2Preface) && len(request) >= 8 && bytes.HasPrefix([]byte(http2Preface), request):
		return Verdict{ProtoHTTP2, EncryptionPlaintext}
	case isHTTPRequest(request) || bytes.HasPrefix(response, []byte("HTTP/1.")):
		return Verdict{ProtoHTTP, EncryptionPlaintext}
	}
	if v, ok := postgres(request, response); ok {
		return v
	}
	if v, ok := mysql(request, response); ok {
		return v
	}
	switch {
	case isRESP(request):
		return Verdict{ProtoRedis, EncryptionPlaintext}
	case isMongo(request):
		return Verdict{ProtoMongoDB, EncryptionPlaintext}
	case bytes.HasPrefix(request, []byte("AMQP")) && len(request) >= 8:
		return Verdict{ProtoAMQP, EncryptionPlaintext}
	case isKafka(request):
		return Verdict{ProtoKafka, EncryptionPlaintext}
	}
	return Verdict{}
}

const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// isTLSHandshake: a TLS record of type handshake (22), version 3.x, whose
// first message is a ClientHello (1) or ServerHello (2).
func isTLSHandshake(b []byte, msg byte) bool {
	return len(b) >= 6 && b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04 && b[5] == msg
}

var httpMethods = []string{"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "}

func isHTTPRequest(b []byte) bool {
	for _, m := range httpMethods {
		if bytes.HasPrefix(b, []byte(m)) && len(b) > len(m) {
			return true
		}
	}
	return false
}

// PostgreSQL: a client opens with SSLRequest or GSSENCRequest (length 8
// and a magic code), answered 'S' or 'N', or with a StartupMessage for
// protocol 3.0 (which is plaintext).
func postgres(req, resp []byte) (Verdict, bool) {
	if len(req) < 8 {
		return Verdict{}, false
	}
	length, code := binary.BigEndian.Uint32(req), binary.BigEndian.Uint32(req[4:])
	switch {
	case length == 8 && code == 80877103: // SSLRequest
		v := Verdict{Protocol: ProtoPostgres}
		if len(resp) > 0 && resp[0] == 'S' {
			v.Encryption = EncryptionTLS
		} else if len(resp) > 0 && resp[0] == 'N' {
			v.Encryption = EncryptionPlaintext
		}
		return v, true
	case length == 8 && code == 80877104: // GSSENCRequest: encrypted by GSSAPI if accepted
		return Verdict{Protocol: ProtoPostgres}, true
	case length >= 8 && length < 10000 && code == 0x00030000: // StartupMessage 3.0
		return Verdict{ProtoPostgres, EncryptionPlaintext}, true
	}
	return Verdict{}, false
}

// MySQL: the server speaks first, a handshake v10 packet with a version
// string; the client answers with a handshake response, or a 32-byte
// SSLRequest whose capabilities ask for TLS.
func mysql(req, resp []byte) (Verdict, bool) {
	greeting := len(resp) >= 7 && int(resp[0])|int(resp[1])<<8|int(resp[2])<<16 > 0 &&
		resp[3] == 0 && resp[4] == 10 && resp[5] >= '0' && resp[5] <= '9'
	if !greeting {
		return Verdict{}, false
	}
	v := Verdict{Protocol: ProtoMySQL}
	if len(req) >= 8 && req[3] == 1 {
		const clientSSL = 0x0800
		length := int(req[0]) | int(req[1])<<8 | int(req[2])<<16
		if binary.LittleEndian.Uint32(req[4:])&clientSSL != 0 && length == 32 {
			v.Encryption = EncryptionTLS
		} else {
			v.Encryption = EncryptionPlaintext
		}
	}
	return v, true
}

// isRESP: a Redis command as an array of bulk strings ("*2\r\n$3\r\nGET…"),
// or an inline PING.
func isRESP(b []byte) bool {
	if bytes.HasPrefix(b, []byte("PING\r\n")) {
		return true
	}
	if len(b) < 6 || b[0] != '*' {
		return false
	}
	i := 1
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i > 1 && bytes.HasPrefix(b[i:], []byte("\r\n$"))
}

// isMongo: a MongoDB message header (little-endian length, request id,
// responseTo 0) with opcode OP_MSG (2013) or the legacy OP_QUERY (2004).
func isMongo(b []byte) bool {
	if len(b) < 16 {
		return false
	}
	length := binary.LittleEndian.Uint32(b)
	op := binary.LittleEndian.Uint32(b[12:])
	return length >= 16 && length <= 48<<20 && binary.LittleEndian.Uint32(b[8:]) == 0 && (op == 2013 || op == 2004)
}

// isKafka: a Kafka request header (big-endian size, API key, API version,
// correlation id, then a client id that is null or printable text). Only
// well-formed headers count: the size must cover them.
func isKafka(b []byte) bool {
	if len(b) < 14 {
		return false
	}
	size := binary.BigEndian.Uint32(b)
	apiKey := int16(binary.BigEndian.Uint16(b[4:]))
	apiVersion := int16(binary.BigEndian.Uint16(b[6:]))
	clientIDLen := int16(binary.BigEndian.Uint16(b[12:]))
	if size < 10 || size > 100<<20 || apiKey < 0 || apiKey > 80 || apiVersion < 0 || apiVersion > 20 || clientIDLen < -1 || clientIDLen > 255 {
		return false
	}
	if clientIDLen > 0 {
		id := b[14:min(len(b), 14+int(clientIDLen))]
		if len(id) == 0 {
			return false
		}
		for _, c := range id {
			if c < 0x20 || c > 0x7e {
				return false
			}
		}
	}
	return true
}
