package main

import (
	"net"
	"sync"
)

// Readiness tells systemd (Type=notify, like the real k3s units) that the node is up, once.
type Readiness struct {
	once   sync.Once
	socket string // $NOTIFY_SOCKET; "" outside systemd
	log    *Logger
}

func NewReadiness(socket string, log *Logger) *Readiness {
	return &Readiness{socket: socket, log: log}
}

// Ready sends READY=1 the first time it is called.
func (r *Readiness) Ready() {
	r.once.Do(func() {
		if r.socket == "" {
			return
		}
		if err := sdNotify(r.socket, "READY=1"); err != nil {
			r.log.Errorf("telling systemd READY=1 failed: %v", err)
		}
	})
}

// sdNotify sends one datagram to systemd's notify socket. Go maps a leading '@' to
// Linux's abstract socket namespace, as sd_notify(3) does.
func sdNotify(socket, state string) error {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
