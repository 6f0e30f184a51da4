package flows

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// firstBytes returns the first n bytes a client writes through its
// connection before anyone answers.
func firstBytes(t *testing.T, n int, client func(net.Conn)) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		client(a)
		a.Close()
	}()
	buf := make([]byte, n)
	got, _ := io.ReadFull(b, buf)
	b.Close()
	return buf[:got]
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestClassify(t *testing.T) {
	clientHello := firstBytes(t, 32, func(c net.Conn) {
		tls.Client(c, &tls.Config{ServerName: "cart.shop.svc"}).Handshake()
	})
	httpRequest := firstBytes(t, 32, func(c net.Conn) {
		r, _ := http.NewRequest("POST", "http://cart:8080/cart/items?token=secret", strings.NewReader("{}"))
		r.Write(c)
	})
	mongo := binary.LittleEndian.AppendUint32(nil, 60)
	mongo = binary.LittleEndian.AppendUint32(mongo, 7)    // request id
	mongo = binary.LittleEndian.AppendUint32(mongo, 0)    // responseTo
	mongo = binary.LittleEndian.AppendUint32(mongo, 2013) // OP_MSG
	mongo = append(mongo, 0, 0, 0, 0, 0)
	kafka := append(be32(31), 0, 18, 0, 3, 0, 0, 0, 1, 0, 7)
	kafka = append(kafka, "rdkafka"...)
	pgStartup := append(be32(41), be32(0x00030000)...)
	pgStartup = append(pgStartup, "user\x00shop\x00"...)
	mysqlGreeting := []byte("\x4a\x00\x00\x00\x0a8.0.36\x00\x0b\x00\x00\x00")
	mysqlSSL := append([]byte{32, 0, 0, 1}, binary.LittleEndian.AppendUint32(nil, 0x0800|0x0200|0x8000)...)
	mysqlLogin := append([]byte{80, 0, 0, 1}, binary.LittleEndian.AppendUint32(nil, 0x0200|0x8000)...)
	serverHello := []byte{0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03}

	tests := []struct {
		name              string
		request, response []byte
		want              Verdict
	}{
		{"TLS ClientHello (crypto/tls)", clientHello, nil, Verdict{ProtoTLS, EncryptionTLS}},
		{"TLS seen only in the ServerHello", nil, serverHello, Verdict{ProtoTLS, EncryptionTLS}},
		{"HTTP/1.1 request (net/http)", httpRequest, nil, Verdict{ProtoHTTP, EncryptionPlaintext}},
		{"HTTP/1.1 seen only in the response", nil, []byte("HTTP/1.1 200 OK\r\n"), Verdict{ProtoHTTP, EncryptionPlaintext}},
		{"HTTP/2 preface (h2c, gRPC)", []byte(http2Preface + "\x00\x00"), nil, Verdict{ProtoHTTP2, EncryptionPlaintext}},
		{"HTTP/2 preface cut short", []byte(http2Preface[:16]), nil, Verdict{ProtoHTTP2, EncryptionPlaintext}},
		{"PostgreSQL SSLRequest accepted", append(be32(8), be32(80877103)...), []byte("S"), Verdict{ProtoPostgres, EncryptionTLS}},
		{"PostgreSQL SSLRequest refused", append(be32(8), be32(80877103)...), []byte("N"), Verdict{ProtoPostgres, EncryptionPlaintext}},
		{"PostgreSQL SSLRequest unanswered", append(be32(8), be32(80877103)...), nil, Verdict{ProtoPostgres, ""}},
		{"PostgreSQL StartupMessage in clear", pgStartup, nil, Verdict{ProtoPostgres, EncryptionPlaintext}},
		{"MySQL greeting, client asks for TLS", mysqlSSL, mysqlGreeting, Verdict{ProtoMySQL, EncryptionTLS}},
		{"MySQL greeting, client logs in in clear", mysqlLogin, mysqlGreeting, Verdict{ProtoMySQL, EncryptionPlaintext}},
		{"MySQL greeting only", nil, mysqlGreeting, Verdict{ProtoMySQL, ""}},
		{"Redis RESP command", []byte("*2\r\n$3\r\nGET\r\n$4\r\ncart\r\n"), []byte("$-1\r\n"), Verdict{ProtoRedis, EncryptionPlaintext}},
		{"Redis inline PING", []byte("PING\r\n"), []byte("+PONG\r\n"), Verdict{ProtoRedis, EncryptionPlaintext}},
		{"MongoDB OP_MSG", mongo, nil, Verdict{ProtoMongoDB, EncryptionPlaintext}},
		{"AMQP 0-9-1 header", []byte("AMQP\x00\x00\x09\x01"), nil, Verdict{ProtoAMQP, EncryptionPlaintext}},
		{"Kafka ApiVersions", kafka, nil, Verdict{ProtoKafka, EncryptionPlaintext}},
		{"SSH banner: not recognised", []byte("SSH-2.0-OpenSSH_9.2\r\n"), nil, Verdict{}},
		{"random bytes", []byte{0x8f, 0x01, 0x22, 0x00, 0x00, 0x01, 0x55, 0xff, 0x00, 0x10, 0x00, 0x02, 0x7f, 0x7f, 0x01}, nil, Verdict{}},
		{"a bare method is not a request", []byte("GET "), nil, Verdict{}},
		{"Kafka-like header with a binary client id", append(append(be32(31), 0, 18, 0, 3, 0, 0, 0, 1, 0, 3), 0x01, 0x02, 0x03), nil, Verdict{}},
		{"nothing seen", nil, nil, Verdict{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.request, tc.response); got != tc.want {
				t.Errorf("Classify(%q, %q) = %+v, want %+v", tc.request, tc.response, got, tc.want)
			}
		})
	}
	if !bytes.HasPrefix(clientHello, []byte{0x16, 0x03}) {
		t.Fatalf("crypto/tls wrote %x", clientHello)
	}
}

func FuzzClassify(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\n"), []byte("HTTP/1.1 200"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x10, 0x01}, []byte{})
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), []byte(nil))
	f.Add([]byte("*1\r\n$4\r\nPING\r\n"), []byte("+PONG\r\n"))
	f.Add([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}, []byte("S"))
	known := []string{"", ProtoTLS, ProtoHTTP, ProtoHTTP2, ProtoPostgres, ProtoMySQL, ProtoRedis, ProtoMongoDB, ProtoAMQP, ProtoKafka}
	f.Fuzz(func(t *testing.T, req, resp []byte) {
		v := Classify(req, resp)
		if v.Protocol == "" && v.Encryption != "" {
			t.Errorf("encryption %q without a protocol", v.Encryption)
		}
		if !slices.Contains(known, v.Protocol) || v.Encryption != "" && v.Encryption != EncryptionTLS && v.Encryption != EncryptionPlaintext {
			t.Errorf("Classify(%q, %q) = %+v: not a verdict it documents", req, resp, v)
		}
		if v.Protocol == ProtoTLS && !bytes.HasPrefix(req, []byte{0x16}) && !bytes.HasPrefix(resp, []byte{0x16}) {
			t.Errorf("Classify(%q, %q): TLS without a handshake record", req, resp)
		}
		if again := Classify(req, resp); again != v {
			t.Errorf("Classify(%q, %q) = %+v, then %+v", req, resp, v, again)
		}
	})
}
