// Minimal Node.js language host (stand-in) for the Pulumi engine.
//
// It implements the LanguageRuntime gRPC service the engine expects from a `pulumi-language-nodejs`
// plugin, on top of the real Pulumi Go SDK (sdk/v3) and the real Node.js SDK's program runner
// (`@pulumi/pulumi/cmd/run`, resolved from the program's directory). It exists only because the
// module proxy does not serve github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3.
// It supports what `pulumi preview|up|refresh|destroy` need: Run, GetRequiredPlugins/Packages (none:
// the dynamic-provider plugin is found on PATH), GetPluginInfo. Not supported: dependency installs,
// `pulumi about` details, policy packs, templates, plugins written in Node.js.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Set with -ldflags "-X main.version=v3.x.y".
var version = "0.0.0-dev"

// The Node.js SDK exits with this code after it has already reported a user-actionable error.
const exitAfterLoggingUserActionableMessage = 32

// How often the host asks the engine whether it is still there. Pulumi's own language hosts
// (pulumi-language-nodejs, -python, -go: main.go) call rpcutil.Healthcheck on the engine's address
// every 5 minutes and stop serving when it fails; an engine killed with SIGKILL (a CI job cancelled,
// `kill -9`) never stops its plugins itself, so until then the host and the program it runs stay
// behind. We ask every second: the question is one local gRPC call.
const engineCheckInterval = time.Second

// How long the program gets to end after SIGINT once the engine is gone, before it is killed.
const programStopGrace = 5 * time.Second

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	// Done when the engine is gone or the host was told to stop: the program is stopped with it.
	ctx           context.Context
	engineAddress string
	tracing       string
	flagOptions   map[string]string
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(version, "v")}, nil
}

func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// option reads a runtime option (Pulumi.yaml runtime.options) from the request, then the plugin flags.
func (h *host) option(opts *structpb.Struct, name string) (string, bool) {
	if opts != nil {
		if v, ok := opts.GetFields()[name]; ok {
			switch k := v.GetKind().(type) {
			case *structpb.Value_BoolValue:
				return strconv.FormatBool(k.BoolValue), true
			case *structpb.Value_StringValue:
				return k.StringValue, true
			case *structpb.Value_NumberValue:
				return strconv.FormatFloat(k.NumberValue, 'f', -1, 64), true
			}
		}
	}
	v, ok := h.flagOptions[name]
	return v, ok
}

func resolveFrom(dir, node, module string) (string, error) {
	cmd := exec.Command(node, "-e", "process.stdout.write(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot find %s from %s (is @pulumi/pulumi installed for this program?): %w", module, dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := req.GetPwd()
	entry := req.GetProgram()
	rootDir := ""
	var opts *structpb.Struct
	if info != nil {
		if info.GetProgramDirectory() != "" {
			programDir = info.GetProgramDirectory()
		}
		if info.GetEntryPoint() != "" {
			entry = info.GetEntryPoint()
		}
		rootDir = info.GetRootDirectory()
		opts = info.GetOptions()
	}
	if entry == "" {
		entry = "."
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not on PATH")
	}
	runPath, err := resolveFrom(programDir, node, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	var args []string
	if nodeargs, ok := h.option(opts, "nodeargs"); ok && nodeargs != "" {
		args = append(args, strings.Fields(nodeargs)...)
	}
	args = append(args, runPath)
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", programDir)
	add("root-directory", rootDir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 0 {
		add("parallel", strconv.Itoa(int(req.GetParallel())))
	}
	add("tracing", h.tracing)
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	typescript := "true"
	if v, ok := h.option(opts, "typescript"); ok {
		typescript = v
	}
	env = append(env, "PULUMI_NODEJS_TYPESCRIPT="+typescript)
	if v, ok := h.option(opts, "tsconfig"); ok && v != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+v)
	}

	cmd := exec.CommandContext(h.ctx, node, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = programStopGrace
	cmd.Dir = programDir
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code := exit.ExitCode()
			if code == exitAfterLoggingUserActionableMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", code)}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func main() {
	h := &host{flagOptions: map[string]string{}}
	var positional []string
	argv := os.Args[1:]
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") {
			positional = append(positional, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "tracing":
			if !hasValue && i+1 < len(argv) {
				i++
				value = argv[i]
			}
			h.tracing = value
		case "version":
			fmt.Println(version)
			return
		default:
			if hasValue {
				h.flagOptions[name] = value
			}
		}
	}
	if len(positional) > 0 {
		h.engineAddress = positional[0]
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h.ctx = ctx
	if h.engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, h.engineAddress, engineCheckInterval, stop); err != nil {
			fmt.Fprintf(os.Stderr, "fatal: cannot watch the engine at %s: %v\n", h.engineAddress, err)
			os.Exit(1)
		}
	}
	cancel := make(chan bool)
	go func() { <-ctx.Done(); close(cancel) }()

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "fatal: %v\n", err)
		os.Exit(1)
	}
}
