# Kill-all rounds: 6 clients write on all three nodes, all three are killed at once (kill -9), restarted, and their
# DEBUG DIGESTs compared. Before src/Node/Raft/DurableWriteAheadLog.cs (followers flush before they acknowledge) one
# replica could keep a different committed log (digest differed at the same applied index, across restarts):
# reproduced at round 6 of 12 on 2026-11-29; with it, 40 of 40 rounds identical.
# Usage: python3 kill_all_divergence.py ROUNDS  (root not needed; 127.0.0.1:6381-6383 through
# cluster-config/local-cluster.sh with RAFTKV_DATA, default /tmp/raftkv-kill-all; keeps the data when it diverges).
import socket, subprocess, threading, time, os, sys
LC=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "cluster-config", "local-cluster.sh")
env=dict(os.environ, RAFTKV_DATA=os.environ.get("RAFTKV_DATA", "/tmp/raftkv-kill-all"), RAFTKV_NO_BUILD="1")
def lc(*a): return subprocess.run([LC,*a],env=env,capture_output=True,text=True)
def call(s, *args):
    msg=f"*{len(args)}\r\n"+"".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    s.sendall(msg.encode()); f=s.makefile('rb'); line=f.readline()
    if line.startswith(b'$'):
        n=int(line[1:])
        if n<0: return None
        return f.read(n+2)[:-2].decode()
    return line.decode().strip()
lc("wipe"); lc("start")
stop=False
def worker(port, k):
    i=0
    while not stop:
        try:
            s=socket.create_connection(("127.0.0.1",port),timeout=2)
            while not stop:
                i+=1; call(s,"INCR",f"c{k}"); call(s,"SET",f"k{k}:{i%50}",str(i)); call(s,"SET",f"lock{k}",str(i),"NX","PX","200")
        except Exception: time.sleep(0.05)
rounds=int(sys.argv[1])
for rnd in range(rounds):
    stop=False; ths=[threading.Thread(target=worker,args=(6381+i%3,i)) for i in range(6)]
    [t.start() for t in ths]
    time.sleep(1.0+rnd%3*0.37)
    for n in "123": lc("kill",n)
    stop=True; [t.join() for t in ths]
    lc("start")
    time.sleep(3)
    ds=[]
    for n in range(3):
        for _ in range(20):
            try:
                s=socket.create_connection(("127.0.0.1",6381+n),timeout=3); d=call(s,"DEBUG","DIGEST"); ds.append(d); break
            except Exception: time.sleep(0.3)
    same=len(set(x.split(':',1)[1] if x else x for x in ds))==1
    print(f"round {rnd}: {'same' if same else 'DIFFERENT'} {ds}", flush=True)
    if not same:
        time.sleep(5)
        ds2=[]
        for n in range(3):
            s=socket.create_connection(("127.0.0.1",6381+n),timeout=3); ds2.append(call(s,"DEBUG","DIGEST"))
        print("   after 5 s:", ds2, flush=True)
        if len(set(x.split(':',1)[1] for x in ds2))>1:
            print("DIVERGED; data kept in RAFTKV_DATA"); lc("stop"); sys.exit(0)
lc("stop")
