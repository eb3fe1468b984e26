package main

import (
	"net"
	"os"
	"strings"
	"syscall"
)

// HostInfo is what the node reports about the machine it runs on.
type HostInfo struct {
	InternalIP    string // "" when the node has no IPv4 address
	OSImage       string
	KernelVersion string
	MachineID     string
	BootID        string
	SystemUUID    string
}

// ReadHostInfo reads the running machine (files of a Debian node; uname).
func ReadHostInfo() HostInfo {
	machineID := readTrimmed("/etc/machine-id")
	uuid := strings.ToLower(readTrimmed("/sys/class/dmi/id/product_uuid"))
	if uuid == "" {
		uuid = uuidFromMachineID(machineID) // containers cannot read the DMI table
	}
	return HostInfo{
		InternalIP:    nodeIPv4(),
		OSImage:       prettyName(readTrimmed("/etc/os-release")),
		KernelVersion: kernelRelease(),
		MachineID:     machineID,
		BootID:        readTrimmed("/proc/sys/kernel/random/boot_id"),
		SystemUUID:    uuid,
	}
}

func readTrimmed(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// prettyName is PRETTY_NAME of an os-release file, unquoted.
func prettyName(osRelease string) string {
	for line := range strings.Lines(osRelease) {
		if value, ok := strings.CutPrefix(strings.TrimSpace(line), "PRETTY_NAME="); ok {
			return strings.Trim(value, `"'`)
		}
	}
	return ""
}

// uuidFromMachineID formats a 32-hex-digit machine id as a UUID.
func uuidFromMachineID(id string) string {
	if len(id) != 32 {
		return ""
	}
	return id[0:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32]
}

func kernelRelease() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return ""
	}
	var b strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}

// nodeIPv4 is the first IPv4 address of eth0, else the first of any other non-loopback interface.
func nodeIPv4() string {
	if iface, err := net.InterfaceByName("eth0"); err == nil {
		if ip := firstIPv4(iface); ip != "" {
			return ip
		}
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for i := range ifaces {
		if ifaces[i].Flags&net.FlagLoopback != 0 {
			continue
		}
		if ip := firstIPv4(&ifaces[i]); ip != "" {
			return ip
		}
	}
	return ""
}

func firstIPv4(iface *net.Interface) string {
	addrs, err := iface.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if v4 := n.IP.To4(); v4 != nil && !v4.IsLoopback() {
				return v4.String()
			}
		}
	}
	return ""
}
