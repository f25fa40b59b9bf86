#!/usr/bin/env python3
# Summarizes the CSV files of KERNLET_WRITE_TRACE (control/store/write_trace.h):
#   KERNLET_WRITE_TRACE=/tmp/t build/bin/kernlet-bench-api --creates-only --clients 64 --etcd /nonexistent
#   bench/api_server/write_trace_analyze.py /tmp/t
# Queue wait (enqueued until a batch took the write), batch taken until acknowledged,
# COMMIT and fdatasync times, batch sizes, and how many writes arrived while the previous
# batch was in COMMIT (with the fsync inside COMMIT those wait for about two fsyncs).
import csv,sys
pre=sys.argv[1]
def load(n):
    try: return [tuple(int(x) for x in r.values()) for r in csv.DictReader(open(pre+'.'+n+'.csv'))]
    except FileNotFoundError: return []
B=load('batches'); R=load('reqs'); S=load('syncs')
def pct(v,p):
    v=sorted(v); return v[min(len(v)-1,int(p*len(v)))]/1e6 if v else 0
def show(name,v): print('%-34s p50 %6.2f p90 %6.2f p99 %6.2f max %6.2f ms'%(name,pct(v,.5),pct(v,.9),pct(v,.99),pct(v,1)))
R=[r for r in R if r[0]>0]
print(pre.split('/')[-1],'writes',len(R),'batches',len(B),'syncs',len(S))
show('queue wait (enqueue->batch taken)',[r[1]-r[0] for r in R])
show('taken->acked',[r[2]-r[1] for r in R])
show('store total (enqueue->acked)',[r[2]-r[0] for r in R])
show('apply (per batch)',[b[1]-b[0] for b in B])
show('COMMIT (per batch)',[b[2]-b[1] for b in B])
if S: show('fdatasync (pipelined)',[s[1]-s[0] for s in S])
ns=sorted(b[6] for b in B); print('batch size p50 %d p90 %d max %d mean %.1f'%(ns[len(ns)//2],ns[int(.9*len(ns))],ns[-1],sum(ns)/len(ns)))
if S:
    inf=sorted(b[8] for b in B); print('batches awaiting sync at hand-off p50 %d max %d'%(inf[len(inf)//2],inf[-1]))
    # concurrency of syncs
    ev=sorted([(s[0],1) for s in S]+[(s[1],-1) for s in S]); c=m=0
    for t,d in ev: c+=d; m=max(m,c)
    print('max concurrent fdatasync',m)
else:
    # two-fsync: enqueued while previous batch was in COMMIT
    Bs=sorted(B); import bisect; ts=[b[0] for b in Bs]
    two=0
    for r in R:
        i=bisect.bisect_right(ts,r[1])-1  # own batch
        if i>0 and Bs[i-1][1] <= r[0] < Bs[i-1][2]: two+=1
    print('writes enqueued during the previous COMMIT (wait ~2 fsyncs): %.2f'%(two/len(R)))
top=sorted(R,key=lambda r:r[2]-r[0])[int(.99*len(R)):]
print('slowest 1%%: mean queue wait %.2f, taken->acked %.2f ms'%(sum(r[1]-r[0] for r in top)/len(top)/1e6,sum(r[2]-r[1] for r in top)/len(top)/1e6))
