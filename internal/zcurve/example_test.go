package zcurve_test

import (
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/zcurve"
)

// Example shows the two sides of a fleet connection: the coordinator binds
// a CURVE server that admits the worker's public key, the worker connects
// with the coordinator's public key. In the program the keys come from
// LoadDir(--fleet-keys); CURVE is needed when NeedsCurve(endpoint).
func Example() {
	coord, _ := zcurve.Generate()
	worker, _ := zcurve.Generate()

	srv, _ := zmq.NewSocket(zmq.PULL)
	defer srv.Close()
	if err := zcurve.ApplyServer(srv, coord, []string{worker.Public}); err != nil { // before Bind
		fmt.Println(err)
		return
	}
	_ = srv.Bind("tcp://127.0.0.1:*")
	ep, _ := srv.GetLastEndpoint()

	cli, _ := zmq.NewSocket(zmq.PUSH)
	defer cli.Close()
	if err := zcurve.ApplyClient(cli, worker, coord.Public); err != nil { // before Connect
		fmt.Println(err)
		return
	}
	_ = cli.Connect(ep)
	_, _ = cli.Send("hello", 0)

	_ = srv.SetRcvtimeo(10 * time.Second)
	msg, _ := srv.Recv(0)
	fmt.Println(msg, zcurve.NeedsCurve(ep), zcurve.NeedsCurve("tcp://10.0.0.1:5557"))
	// Output: hello false true
}
