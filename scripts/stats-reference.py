#!/usr/bin/env python3
"""Reference values for the unit tests of src/report/stats.rs.

Needs only mpmath (30-digit arithmetic); the exact Wilcoxon p-values are counted by
enumerating every subset of ranks. scipy.stats.ttest_rel, t.ppf and wilcoxon (with its
defaults: zero_method="wilcox", exact for small n without ties, normal approximation
with tie correction and no continuity correction otherwise) compute the same quantities.
Run: python3 scripts/stats-reference.py
"""
from mpmath import mp, mpf, betainc, erfc, sqrt, findroot
from itertools import combinations
mp.dps = 30
def tp(t, df): return betainc(mpf(df)/2, mpf(1)/2, 0, mpf(df)/(df+mpf(t)**2), regularized=True)
print("incbeta(2,3,.4)", betainc(2,3,0,mpf('0.4'),regularized=True))
print("erfc1", erfc(1/sqrt(2)), "erfc3", erfc(3/sqrt(2)))
print("t2df4", tp(2,4), "t1df1", tp(1,1))
for df in (4,1,29):
    print("tcrit", df, findroot(lambda t: tp(t,df)-mpf('0.05'), 2.5 if df>1 else 12))
print("ci", findroot(lambda t: tp(t,4)-mpf('0.05'), 2.5)*mpf('0.1')/sqrt(5))
def ttest(a,b):
    a=[mpf(x) for x in a]; b=[mpf(x) for x in b]
    d=[x-y for x,y in zip(a,b)]; n=len(d); m=sum(d)/n
    sd=sqrt(sum((x-m)**2 for x in d)/(n-1)); t=m/(sd/sqrt(n)); return t, tp(t,n-1)
print("tt1", ttest(['0.90','0.85','0.88','0.92','0.87'],['0.88','0.84','0.85','0.91','0.86']))
print("tt2", ttest([1,2,3],['1.5','2.1','3.9']))
def wex(d):
    d=[x for x in d if x!=0]; n=len(d)
    order=sorted(range(n), key=lambda i: abs(d[i])); r=[0]*n
    for k,i in enumerate(order): r[i]=k+1
    wp=sum(r[i] for i in range(n) if d[i]>0); T=min(wp, n*(n+1)//2-wp)
    cnt=0
    for k in range(n+1):
        for c in combinations(range(1,n+1),k):
            if sum(c)<=T: cnt+=1
    return T, min(1, 2*mpf(cnt)/2**n)
print("w1", wex([1-1.1,2-2.3,3-2.8,4-4.4,5-5.5]))
print("w2", wex([-1,-2,-3,-4,-5]))
print("w3", wex([0,1,2,-3]))
print("w4", wex([1,2,-3,4,5,6,7,8,9,10]))
print("wn", erfc(mpf('7.5')/sqrt(mpf('13.25'))/sqrt(2)))
print("w30", erfc(mpf('232.5')/sqrt(mpf('2363.75'))/sqrt(2)))
