"""The sign-in mail, as a job: rendered at send time from the link's id."""

from __future__ import annotations

from app.db import open_session
from app.jobs.worker import ClaimedJob, JobContext, Outcome
from app.kit.templating import default_environment
from app.kit.tokens import Tokens
from app.mail.service import RenderedMail, message_id_for
from app.organisers.models import Organiser, SignInLink
from app.organisers.service import sign_in_token


def send_sign_in_mail(context: JobContext, job: ClaimedJob) -> Outcome:
    settings = context.settings
    with open_session(context.engine) as session:
        link = session.get(SignInLink, job.ref_id) if job.ref_id is not None else None
        organiser = session.get(Organiser, link.organiser_id) if link else None
        if link is None or link.used_at is not None or organiser is None:
            return Outcome.DROPPED
        if organiser.disabled_at is not None:
            return Outcome.DROPPED
        token = sign_in_token(Tokens(settings.resolved_secret_keys()), link)
        address = settings.keyring().decrypt_email(organiser.email_encrypted)
    env = default_environment()
    render = {
        "site_name": settings.site_name,
        "sign_in_url": f"{settings.base_url}/organise/sign-in/{token}",
        "minutes": int(settings.sign_in_link_minutes),
    }
    mail = RenderedMail(
        to=address,
        subject=env.get_template("email/sign_in.subject.txt").render(render).strip(),
        text=env.get_template("email/sign_in.txt").render(render),
        html=env.get_template("email/sign_in.html").render(render),
        message_id=message_id_for(
            kind=job.kind, job_id=job.id, created_at=job.created_at, base_url=settings.base_url
        ),
    )
    context.mailer.send(mail)
    return Outcome.DONE
