//! Review against git: a diff of many files, a 50,000-line rewrite, the merge preview against
//! `git merge-tree`, and a squash merge against `git merge --squash` and a commit.

use super::*;

pub(crate) async fn bench_review(
    root: &Path,
    client: &Client,
    n: usize,
    repo: &Path,
    runs: usize,
) -> Result<(), String> {
    // 500 files with 40 lines changed each (every even line of the first 80).
    let edit = format!(
        "for i in $(seq 0 {}); do f=$(printf 'src/m%03d/d%03d/f%05d.rs' $((i/10000)) $(((i/100)%100)) $i); \
         sed -i -E '1,80{{/^line [0-9]*[02468] /s/$/ changed/}}' $f; done",
        REVIEW_FILES - 1
    );
    let scattered = run_job(client, repo, &edit).await?;
    let rewrite = run_job(client, repo, "sed -i 's/$/ rewritten/' big.txt").await?;
    for (job, what) in [
        (&scattered, "diff, 500 files x 40 lines"),
        (&rewrite, "diff, 50,000-line file rewritten"),
    ] {
        let head = job.head_commit.clone().ok_or("no head")?;
        // The plain patch (`sidekick diff`) and the structured diff (the app's), each against
        // `git diff` of the same commits, interleaved.
        let (mut g, mut p, mut s) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..=runs {
            let gt = time_git(root, repo, &["diff", &job.base_commit, &head])?;
            let t = Instant::now();
            let patch = client.patch(&job.id).await.map_err(|e| e.to_string())?;
            let pt = t.elapsed();
            if patch.is_empty() {
                return Err(format!("{what}: the patch is empty"));
            }
            let t = Instant::now();
            let d = client.diff(&job.id).await.map_err(|e| e.to_string())?;
            let st = t.elapsed();
            if d.truncated {
                return Err(format!("{what}: the diff was truncated"));
            }
            if r > 0 {
                g.push(gt);
                p.push(pt);
                s.push(st);
            }
        }
        report(n, &format!("{what}: patch"), g.clone(), p);
        report(n, &format!("{what}: structured"), g, s);
    }

    // The target moves: 200 other files change, and one file the job also changed (elsewhere in
    // it), so the preview has both sides' changes and a line-level merge to do.
    // Files the target's own change touches: 200 (or what there is) past the ones the job edits.
    let moved_from = REVIEW_FILES.max(n / 2);
    let moved = 200.min(n.saturating_sub(moved_from)).max(1);
    let mv = format!(
        "cd {} && for i in $(seq {} {}); do f=$(printf 'src/m%03d/d%03d/f%05d.rs' $((i/10000)) $(((i/100)%100)) $i); \
         echo moved >> $f; done && sed -i 's/^line 95 of file 0$/line 95 moved/' src/m000/d000/f00000.rs && \
         git commit -qam 'target moves'",
        repo.display(),
        moved_from,
        moved_from + moved - 1
    );
    let st = Command::new("sh")
        .arg("-c")
        .arg(&mv)
        .envs(envs(root))
        .status()
        .map_err(|e| e.to_string())?;
    if !st.success() {
        return Err("moving the target failed".into());
    }
    let job_branch = scattered.branch.clone();
    let (mut g, mut s) = (Vec::new(), Vec::new());
    let dry = sidekick_protocol::MergeRequest {
        dry_run: true,
        ..Default::default()
    };
    for r in 0..=runs {
        let gt = time_git(
            root,
            repo,
            &["merge-tree", "--write-tree", "main", &job_branch],
        )?;
        let t = Instant::now();
        let p = client
            .merge(&scattered.id, &dry)
            .await
            .map_err(|e| e.to_string())?;
        let st = t.elapsed();
        if !p.preview.clean {
            return Err("the preview found conflicts".into());
        }
        if r > 0 {
            g.push(gt);
            s.push(st);
        }
    }
    report(n, "conflict preview", g, s);

    // Squash merge into the checked-out main, undone after each run (not timed); a second
    // passes between an undo and the next merge.
    let tip = git(root, repo, &["rev-parse", "main"])?;
    let head = scattered.head_commit.clone().ok_or("no head")?;
    let (mut g, mut s) = (Vec::new(), Vec::new());
    for r in 0..=runs {
        settle();
        git(root, repo, &["branch", "-f", "bench-squash", &head])?;
        let t = Instant::now();
        let a = time_git(root, repo, &["merge", "--squash", "bench-squash"])?;
        let b = time_git(root, repo, &["commit", "-q", "-m", "squash"])?;
        let gt = t.elapsed();
        let _ = (a, b);
        git(root, repo, &["reset", "-q", "--hard", &tip])?;
        settle();
        let t = Instant::now();
        let m = client
            .merge(&scattered.id, &sidekick_protocol::MergeRequest::default())
            .await
            .map_err(|e| e.to_string())?;
        let st = t.elapsed();
        if !m.merged {
            return Err(format!("the merge did not happen: {}", m.message));
        }
        client
            .undo(&scattered.id, &Default::default())
            .await
            .map_err(|e| e.to_string())?;
        // The undo brought the job's worktree back; the host checks it in the background
        // (then watches it), as after a job ends. A user merges seconds later, not at once.
        tokio::time::sleep(Duration::from_secs(1)).await;
        if r > 0 {
            g.push(gt);
            s.push(st);
        }
    }
    report(n, "squash merge into checked-out main", g, s);
    Ok(())
}
